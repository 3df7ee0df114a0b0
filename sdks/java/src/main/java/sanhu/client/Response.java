package sanhu.client;

import java.net.http.HttpHeaders;
import java.util.Map;

/**
 * A success answer.
 *
 * @param status the HTTP status
 * @param headers the answer's headers
 * @param data the body parsed ({@link Json}), null for an empty body
 * @param replayed whether the answer is the stored answer of an earlier request with the same Idempotency-Key
 * @param requestId the X-Request-Id
 * @param attempts how many times the request was sent (1 when it was not retried)
 * @param idempotencyKey the Idempotency-Key sent, or null
 */
public record Response(int status, HttpHeaders headers, Object data, boolean replayed, String requestId, int attempts,
        String idempotencyKey) {

    /** The body as a JSON object. */
    @SuppressWarnings("unchecked")
    public Map<String, Object> object() {
        if (!(data instanceof Map<?, ?>)) throw new SanhuException("the answer is not a JSON object");
        return (Map<String, Object>) data;
    }
}
