package sanhu.client;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.Signature;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Webhook signature verification, for the scheme planned in issue 18 ("Signed webhooks"): sanhu
 * does not send webhooks yet. A delivery is a POST to the receiver's URL signed with sanhu's webhook
 * key by the same canonical form as a request:
 *
 * <pre>SANHU-ED25519-V1\nPOST\n{the receiver URL's path and query, as sent}\n{timestamp}\n{nonce}\n{hex SHA-256 of the body}</pre>
 *
 * with X-Sanhu-Timestamp, X-Sanhu-Nonce and X-Sanhu-Signature headers. Verify the raw body bytes
 * before parsing them, refuse a timestamp outside the tolerance, and de-duplicate by the event's id.
 */
public final class Webhooks {
    private Webhooks() {}

    public static final Duration DEFAULT_TOLERANCE = Duration.ofSeconds(300);

    /** As {@link #verify(String, String, String, Map, byte[], Duration, Instant)} for a POST, the default tolerance, now. */
    public static void verify(String publicKey, String pathAndQuery, Map<String, List<String>> headers, byte[] body) {
        verify(publicKey, "POST", pathAndQuery, headers, body, DEFAULT_TOLERANCE, Instant.now());
    }

    /**
     * Returns if the delivery is signed by {@code publicKey} (standard base64 of 32 bytes) and its
     * timestamp is within {@code tolerance} of {@code now}; throws WebhookSignatureException
     * otherwise. Header names are matched in any case (as com.sun.net.httpserver and servlet
     * containers give them).
     */
    public static void verify(String publicKey, String method, String pathAndQuery, Map<String, List<String>> headers,
            byte[] body, Duration tolerance, Instant now) {
        String timestampText = header(headers, Signing.TIMESTAMP_HEADER);
        String nonce = header(headers, Signing.NONCE_HEADER);
        String signatureText = header(headers, Signing.SIGNATURE_HEADER);
        if (!timestampText.matches("[0-9]{1,12}")) throw new WebhookSignatureException("the timestamp is not unix seconds");
        long timestamp = Long.parseLong(timestampText);
        if (Math.abs(now.getEpochSecond() - timestamp) > tolerance.getSeconds()) {
            throw new WebhookSignatureException("the timestamp is outside the tolerance");
        }
        byte[] signature;
        try {
            signature = Base64.getDecoder().decode(signatureText);
        } catch (IllegalArgumentException e) {
            throw new WebhookSignatureException("the signature is not base64");
        }
        if (signature.length != 64) throw new WebhookSignatureException("the signature is not 64 bytes");
        byte[] text = Signing.signedString(method.toUpperCase(Locale.ROOT), pathAndQuery, body, timestamp, nonce)
                .getBytes(StandardCharsets.UTF_8);
        boolean valid;
        try {
            Signature ed25519 = Signature.getInstance("Ed25519");
            ed25519.initVerify(Signing.publicKey(publicKey));
            ed25519.update(text);
            valid = ed25519.verify(signature);
        } catch (GeneralSecurityException e) {
            valid = false;
        }
        if (!valid) throw new WebhookSignatureException("the signature does not verify");
    }

    private static String header(Map<String, List<String>> headers, String name) {
        List<String> values = new ArrayList<>();
        for (Map.Entry<String, List<String>> entry : headers.entrySet()) {
            if (entry.getKey() != null && entry.getKey().equalsIgnoreCase(name)) values.addAll(entry.getValue());
        }
        if (values.isEmpty()) throw new WebhookSignatureException("the " + name + " header is missing");
        if (values.size() > 1) throw new WebhookSignatureException("the " + name + " header is given more than once");
        return values.get(0);
    }
}
