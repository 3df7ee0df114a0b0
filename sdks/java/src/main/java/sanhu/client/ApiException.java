package sanhu.client;

import java.util.OptionalDouble;

/**
 * The API answered with an error: {@code {"error": {"code", "message", "request_id"}}}. Branch on
 * {@link #code()} (a stable code of the OpenAPI document's ErrorCode, in {@link Api#ERROR_CODES} with
 * its status), or catch the subclass of its HTTP status; the message is for people.
 */
public class ApiException extends SanhuException {
    private final int status;
    private final String code;
    private final String apiMessage;
    private final String requestId;
    private final OptionalDouble retryAfter;

    public ApiException(int status, String code, String message, String requestId, OptionalDouble retryAfter) {
        super(status + " " + code + ": " + message + (requestId != null ? " (request " + requestId + ")" : ""));
        this.status = status;
        this.code = code;
        this.apiMessage = message;
        this.requestId = requestId;
        this.retryAfter = retryAfter;
    }

    public int status() {
        return status;
    }

    /** The stable code. */
    public String code() {
        return code;
    }

    /** The server's message, for people. */
    public String apiMessage() {
        return apiMessage;
    }

    public String requestId() {
        return requestId;
    }

    /** Seconds the server asked to wait before retrying (Retry-After), if it said. */
    public OptionalDouble retryAfter() {
        return retryAfter;
    }

    /** Whether the code is one of the document's, with the status it is registered with. */
    public boolean known() {
        return Integer.valueOf(status).equals(Api.ERROR_CODES.get(code));
    }

    static ApiException of(int status, String code, String message, String requestId, OptionalDouble retryAfter) {
        return switch (status) {
            case 400 -> new InvalidRequest(status, code, message, requestId, retryAfter);
            case 401 -> new Authentication(status, code, message, requestId, retryAfter);
            case 403 -> new PermissionDenied(status, code, message, requestId, retryAfter);
            case 404 -> new NotFound(status, code, message, requestId, retryAfter);
            case 409 -> new Conflict(status, code, message, requestId, retryAfter);
            case 422 -> new Unprocessable(status, code, message, requestId, retryAfter);
            case 429 -> new RateLimited(status, code, message, requestId, retryAfter);
            case 503 -> new Unavailable(status, code, message, requestId, retryAfter);
            default -> new ApiException(status, code, message, requestId, retryAfter);
        };
    }

    /** 400: the request is malformed (a body, a field, a query, an id). */
    public static class InvalidRequest extends ApiException {
        InvalidRequest(int s, String c, String m, String r, OptionalDouble a) { super(s, c, m, r, a); }
    }

    /** 401: the signature or the credential was refused (invalid_signature, stale_timestamp, ...). */
    public static class Authentication extends ApiException {
        Authentication(int s, String c, String m, String r, OptionalDouble a) { super(s, c, m, r, a); }
    }

    /** 403: the client may not do this (scope_missing, client_bound), or a status stops it. */
    public static class PermissionDenied extends ApiException {
        PermissionDenied(int s, String c, String m, String r, OptionalDouble a) { super(s, c, m, r, a); }
    }

    /** 404: no such object, or one the client may not see. */
    public static class NotFound extends ApiException {
        NotFound(int s, String c, String m, String r, OptionalDouble a) { super(s, c, m, r, a); }
    }

    /** 409: the object's state does not allow it, or a number was reused with other details. */
    public static class Conflict extends ApiException {
        Conflict(int s, String c, String m, String r, OptionalDouble a) { super(s, c, m, r, a); }
    }

    /** 422: a rule refused it (insufficient_funds, invalid_amount, idempotency_key_reused, ...). */
    public static class Unprocessable extends ApiException {
        Unprocessable(int s, String c, String m, String r, OptionalDouble a) { super(s, c, m, r, a); }
    }

    /** 429 rate_limited: nothing was done; retry after {@link #retryAfter()} seconds. */
    public static class RateLimited extends ApiException {
        RateLimited(int s, String c, String m, String r, OptionalDouble a) { super(s, c, m, r, a); }
    }

    /** 503: the server could not apply it now (ledger_unavailable, not_ready, audit_unavailable). */
    public static class Unavailable extends ApiException {
        Unavailable(int s, String c, String m, String r, OptionalDouble a) { super(s, c, m, r, a); }
    }
}
