package sanhu.client;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** A request's query (in order) and its Idempotency-Key. */
public final class RequestOptions {
    final List<Map.Entry<String, String>> query = new ArrayList<>();
    String idempotencyKey;

    public static RequestOptions create() {
        return new RequestOptions();
    }

    /** Adds a query parameter; a null value is left out. */
    public RequestOptions query(String name, Object value) {
        if (value != null) query.add(Map.entry(name, String.valueOf(value)));
        return this;
    }

    public RequestOptions idempotencyKey(String key) {
        this.idempotencyKey = key;
        return this;
    }

    /** {@code name=value&...} in order, each part percent-encoded ({@link Signing#encodeComponent}). */
    public String queryString() {
        StringBuilder out = new StringBuilder();
        for (Map.Entry<String, String> entry : query) {
            if (out.length() > 0) out.append('&');
            out.append(Signing.encodeComponent(entry.getKey())).append('=').append(Signing.encodeComponent(entry.getValue()));
        }
        return out.toString();
    }
}
