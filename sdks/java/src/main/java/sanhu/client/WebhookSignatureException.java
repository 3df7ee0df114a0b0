package sanhu.client;

/** A webhook delivery's signature headers are missing, malformed, stale or do not verify. */
public class WebhookSignatureException extends SanhuException {
    public WebhookSignatureException(String message) {
        super(message);
    }
}
