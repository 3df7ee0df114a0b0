package sanhu.client;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.OptionalDouble;
import java.util.Set;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A signed client of one sanhu server: signs every request, gives POSTs an Idempotency-Key, turns
 * error answers into {@link ApiException}s carrying the stable codes and retries 429 and 503 as the
 * server's Retry-After says. Thread-safe.
 */
public final class Client {
    public static final String DEFAULT_CREDENTIALS_FILE = "sanhu-credentials.json";
    /** Codes whose answer says nothing was applied: a retry is safe even without an Idempotency-Key. */
    private static final Set<String> NOTHING_APPLIED = Set.of("rate_limited", "ledger_unavailable", "not_ready");
    private static final Pattern PATH_PARAMETER = Pattern.compile("\\{([a-z_]+)\\}");
    private static final SecureRandom RANDOM = new SecureRandom();

    private final String url;
    private final Signer signer;
    private final HttpClient http;
    private final Duration timeout;
    private final int maxRetries;
    private final Duration maxRetryWait;

    private Client(Builder builder) {
        this.url = builder.url.replaceAll("/+$", "");
        this.signer = new Signer(builder.clientId, builder.privateKey);
        this.timeout = builder.timeout;
        this.maxRetries = builder.maxRetries;
        this.maxRetryWait = builder.maxRetryWait;
        this.http = HttpClient.newBuilder().connectTimeout(builder.timeout).followRedirects(HttpClient.Redirect.NEVER).build();
    }

    /** Options: timeout per attempt (30 s), retries of a 429 or a safe 503 (2), the longest Retry-After honoured (30 s). */
    public static final class Builder {
        private String url;
        private String clientId;
        private String privateKey;
        private Duration timeout = Duration.ofSeconds(30);
        private int maxRetries = 2;
        private Duration maxRetryWait = Duration.ofSeconds(30);

        public Builder url(String url) { this.url = url; return this; }
        public Builder clientId(String clientId) { this.clientId = clientId; return this; }
        /** Standard base64 of the 32-byte Ed25519 seed. */
        public Builder privateKey(String privateKey) { this.privateKey = privateKey; return this; }
        public Builder timeout(Duration timeout) { this.timeout = timeout; return this; }
        public Builder maxRetries(int maxRetries) { this.maxRetries = maxRetries; return this; }
        /** A longer Retry-After is thrown, never cut short. */
        public Builder maxRetryWait(Duration maxRetryWait) { this.maxRetryWait = maxRetryWait; return this; }

        /** Reads the credential file {@code sanhu serve} and {@code sanhu client create --save} write: {"url", "client_id", "private_key"}. */
        @SuppressWarnings("unchecked")
        public Builder credentials(Path path) {
            Map<String, Object> credential;
            try {
                credential = (Map<String, Object>) Json.parse(Files.readString(path));
            } catch (IOException | IllegalArgumentException | ClassCastException e) {
                throw new SanhuException("cannot read the credential " + path + ": " + e.getMessage(), e);
            }
            this.url = (String) credential.get("url");
            this.clientId = (String) credential.get("client_id");
            this.privateKey = (String) credential.get("private_key");
            return this;
        }

        public Client build() {
            if (url == null || clientId == null || privateKey == null) throw new IllegalStateException("url, clientId and privateKey are needed");
            return new Client(this);
        }
    }

    public static Builder builder() {
        return new Builder();
    }

    public static Client fromCredentials(Path path) {
        return builder().credentials(path).build();
    }

    public String url() {
        return url;
    }

    public Signer signer() {
        return signer;
    }

    public static String newIdempotencyKey() {
        byte[] bytes = new byte[16];
        RANDOM.nextBytes(bytes);
        return "idem-" + HexFormat.of().formatHex(bytes);
    }

    // -- the wire -------------------------------------------------------------------------------

    /**
     * Sends one signed request (again on 429/503 as allowed) and returns the answer; throws an
     * ApiException subclass for a non-2xx answer. {@code path} is sent and signed as given: build its
     * parameters with {@link Signing#encodeComponent} and pass the query in the options. A null body
     * sends no body.
     */
    public Response request(String method, String path, Object body, RequestOptions options) {
        RequestOptions opts = options == null ? new RequestOptions() : options;
        String upper = method.toUpperCase(Locale.ROOT);
        String query = opts.queryString();
        String pathAndQuery = query.isEmpty() ? path : path + "?" + query;
        byte[] payload = body == null ? new byte[0] : Json.write(body).getBytes(StandardCharsets.UTF_8);
        for (int attempt = 1; ; attempt++) {
            try {
                return send(upper, pathAndQuery, payload, opts.idempotencyKey, attempt);
            } catch (ApiException error) {
                Duration wait = retryWait(error, upper, opts.idempotencyKey, attempt);
                if (wait == null) throw error;
                try {
                    Thread.sleep(wait.toMillis());
                } catch (InterruptedException interrupted) {
                    Thread.currentThread().interrupt();
                    throw error;
                }
            }
        }
    }

    private Duration retryWait(ApiException error, String method, String idempotencyKey, int attempt) {
        if (attempt > maxRetries) return null;
        if (error.status() == 503) {
            boolean safe = method.equals("GET") || method.equals("HEAD") || idempotencyKey != null || NOTHING_APPLIED.contains(error.code());
            if (!safe) return null;
        } else if (error.status() != 429) {
            return null;
        }
        double seconds = error.retryAfter().orElse(Math.min(0.25 * Math.pow(2, attempt - 1), 4));
        Duration wait = Duration.ofMillis(Math.round(seconds * 1000));
        return wait.compareTo(maxRetryWait) <= 0 ? wait : null;
    }

    private Response send(String method, String pathAndQuery, byte[] payload, String idempotencyKey, int attempt) {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(url + pathAndQuery)).timeout(timeout)
                .method(method, payload.length == 0 && !method.equals("POST")
                        ? HttpRequest.BodyPublishers.noBody()
                        : HttpRequest.BodyPublishers.ofByteArray(payload));
        signer.signNow(method, pathAndQuery, payload).forEach(request::header);
        request.header("Accept", "application/json");
        if (payload.length > 0) request.header("Content-Type", "application/json");
        if (idempotencyKey != null) request.header("Idempotency-Key", idempotencyKey);
        HttpResponse<String> answer;
        try {
            answer = http.send(request.build(), HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new SanhuException("failed to reach " + url + ": " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new SanhuException("interrupted", e);
        }
        Object data = null;
        if (!answer.body().isEmpty()) {
            try {
                data = Json.parse(answer.body());
            } catch (IllegalArgumentException notJson) {
                data = answer.body();
            }
        }
        String requestId = answer.headers().firstValue("x-request-id").orElse(null);
        int status = answer.statusCode();
        if (status >= 200 && status < 300) {
            boolean replayed = answer.headers().firstValue("idempotent-replayed").map("true"::equals).orElse(false);
            return new Response(status, answer.headers(), data, replayed, requestId, attempt, idempotencyKey);
        }
        String code = "http_" + status;
        String message = answer.body();
        if (data instanceof Map<?, ?> map && map.get("error") instanceof Map<?, ?> detail) {
            if (detail.get("code") instanceof String c) code = c;
            if (detail.get("message") instanceof String m) message = m;
            if (detail.get("request_id") instanceof String r) requestId = r;
        }
        throw ApiException.of(status, code, message, requestId, retryAfter(answer.headers().firstValue("retry-after").orElse(null)));
    }

    static OptionalDouble retryAfter(String value) {
        if (value == null) return OptionalDouble.empty();
        String text = value.trim();
        if (text.matches("\\d{1,9}")) return OptionalDouble.of(Long.parseLong(text));
        try {
            ZonedDateTime when = ZonedDateTime.parse(text, DateTimeFormatter.RFC_1123_DATE_TIME);
            return OptionalDouble.of(Math.max(0, Duration.between(java.time.Instant.now(), when.toInstant()).toMillis() / 1000.0));
        } catch (java.time.format.DateTimeParseException e) {
            return OptionalDouble.empty();
        }
    }

    /**
     * Any operation of the OpenAPI document by its operationId ({@link Api#OPERATIONS}). A POST that
     * takes an Idempotency-Key gets a fresh one unless the options give one, so that retries apply it once.
     */
    public Response call(String operationId, Map<String, String> pathParams, Object body, RequestOptions options) {
        Api.Operation operation = Api.OPERATIONS.get(operationId);
        if (operation == null) throw new IllegalArgumentException("no operation " + operationId + " in the OpenAPI document");
        Map<String, String> params = new HashMap<>(pathParams == null ? Map.of() : pathParams);
        Matcher matcher = PATH_PARAMETER.matcher(operation.path());
        StringBuilder path = new StringBuilder();
        while (matcher.find()) {
            String value = params.remove(matcher.group(1));
            if (value == null) throw new IllegalArgumentException(operationId + " needs the path parameter " + matcher.group(1));
            matcher.appendReplacement(path, Matcher.quoteReplacement(Signing.encodeComponent(value)));
        }
        matcher.appendTail(path);
        if (!params.isEmpty()) throw new IllegalArgumentException(operationId + " has no path parameter " + params.keySet());
        RequestOptions opts = options == null ? new RequestOptions() : options;
        if (opts.idempotencyKey != null && !operation.idempotent()) {
            throw new IllegalArgumentException(operationId + " takes no Idempotency-Key (its request or response carries a secret)");
        }
        if (opts.idempotencyKey == null && operation.idempotent() && operation.method().equals("POST")) {
            RequestOptions keyed = new RequestOptions().idempotencyKey(newIdempotencyKey());
            keyed.query.addAll(opts.query);
            opts = keyed;
        }
        return request(operation.method(), path.toString(), body, opts);
    }

    /** Sends a request and reads its answer as a model. */
    private <T> T typed(Function<Object, T> read, String operationId, Map<String, String> pathParams, Object body, RequestOptions options) {
        return read.apply(call(operationId, pathParams, body, options).data());
    }

    // -- the main flows, by name, with the typed models of {@link Models} ---------------------------

    /** POST /v1/members: e.g. RegisterMemberRequest.builder().phone("13800000001").build(). */
    public Models.RegisteredMember registerMember(Models.RegisterMemberRequest body) {
        return typed(Models.RegisteredMember::fromJson, "registerMember", null, body, null);
    }

    /** POST /v1/members/{id}/activate: the member becomes normal and its basic account opens. */
    public Models.ActivatedMember activateMember(String memberId) {
        return typed(Models.ActivatedMember::fromJson, "activateMember", Map.of("id", memberId), Map.of(), null);
    }

    public Models.Member getMember(String memberId) {
        return typed(Models.Member::fromJson, "getMember", Map.of("id", memberId), null, null);
    }

    /** POST /v1/recharges: order number, member, amount (minor units), channel. */
    public Models.Recharge createRecharge(Models.CreateRechargeRequest body) {
        return typed(Models.Recharge::fromJson, "createRecharge", null, body, null);
    }

    /** POST /v1/recharges/{number}/confirm: the channel says it was paid; credits the member once. */
    public Models.Recharge confirmRecharge(String orderNumber) {
        return typed(Models.Recharge::fromJson, "confirmRecharge", Map.of("number", orderNumber), null, null);
    }

    public Models.Recharge getRecharge(String orderNumber) {
        return typed(Models.Recharge::fromJson, "getRecharge", Map.of("number", orderNumber), null, null);
    }

    /** POST /v1/payments: order number, amount, member, receiver account (or platform account), ... */
    public Models.Payment pay(Models.PayRequest body) {
        return typed(Models.Payment::fromJson, "pay", null, body, null);
    }

    public Models.Payment getPayment(String orderNumber) {
        return typed(Models.Payment::fromJson, "getPayment", Map.of("number", orderNumber), null, null);
    }

    /** POST /v1/payments/{number}/refunds: refund number and amount. */
    public Models.Refund refundPayment(String orderNumber, Models.RefundRequest body) {
        return typed(Models.Refund::fromJson, "refundPayment", Map.of("number", orderNumber), body, null);
    }

    public Models.Wallet getWallet(String memberId) {
        return typed(Models.Wallet::fromJson, "getWallet", Map.of("id", memberId), null, null);
    }

    /** One page of the wallet's flow, newest first; null limit or after leave them to the server. */
    public Models.FlowPage walletFlow(String memberId, Integer limit, String after) {
        return typed(Models.FlowPage::fromJson, "getWalletFlow", Map.of("id", memberId), null,
                RequestOptions.create().query("limit", limit).query("after", after));
    }

    /** Every line of the wallet's flow, newest first, page after page. */
    public void forEachWalletFlow(String memberId, int pageSize, Consumer<Models.FlowLine> action) {
        String after = null;
        while (true) {
            Models.FlowPage page = walletFlow(memberId, pageSize, after);
            page.data().forEach(action);
            after = page.nextCursor();
            if (after == null || page.data().isEmpty()) return;
        }
    }
}
