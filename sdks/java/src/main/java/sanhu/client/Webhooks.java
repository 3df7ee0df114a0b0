package sanhu.client;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.Signature;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * Webhook signature verification (docs/WEBHOOKS.md). A delivery is a POST to the receiver's URL
 * signed by the same canonical form as a request, with sanhu's Ed25519 webhook key:
 *
 * <pre>SANHU-ED25519-V1\nPOST\n{the receiver URL's path and query, as sent}\n{timestamp}\n{nonce}\n{hex SHA-256 of the body}</pre>
 *
 * or, for a subscription made with {@code "signature": "hmac-sha256"}, with HMAC-SHA256 keyed by the
 * subscription's secret (its text as shown, {@code whsec_} included) over the same lines but the
 * first, {@code SANHU-HMAC-SHA256-V1}. Both come with X-Sanhu-Timestamp, X-Sanhu-Nonce and
 * X-Sanhu-Signature headers. Verify the raw body bytes before parsing them, refuse a timestamp
 * outside the tolerance, and de-duplicate by the event's id.
 */
public final class Webhooks {
    private Webhooks() {}

    public static final Duration DEFAULT_TOLERANCE = Duration.ofSeconds(300);
    /** The first line of the string an HMAC-signed delivery signs. */
    public static final String HMAC_SCHEME = "SANHU-HMAC-SHA256-V1";

    /** The timestamp, nonce and signature of a delivery whose headers are well formed and fresh. */
    private record Checked(long timestamp, String nonce, byte[] signature) {}

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
        Checked checked = checked(headers, tolerance, now, 64);
        byte[] signature = checked.signature();
        byte[] text = Signing.signedString(method.toUpperCase(Locale.ROOT), pathAndQuery, body, checked.timestamp(),
                checked.nonce()).getBytes(StandardCharsets.UTF_8);
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

    /** As {@link #verifyHmac(String, String, Map, byte[], Duration, Instant)} with the default tolerance, now. */
    public static void verifyHmac(String secret, String pathAndQuery, Map<String, List<String>> headers, byte[] body) {
        verifyHmac(secret, pathAndQuery, headers, body, DEFAULT_TOLERANCE, Instant.now());
    }

    /**
     * Returns if the delivery is signed with HMAC-SHA256 under {@code secret} (the {@code whsec_} text
     * shown when the subscription was made) and its timestamp is within {@code tolerance} of
     * {@code now}; throws WebhookSignatureException otherwise. The tags are compared in constant time.
     */
    public static void verifyHmac(String secret, String pathAndQuery, Map<String, List<String>> headers, byte[] body,
            Duration tolerance, Instant now) {
        if (secret == null || secret.isEmpty()) throw new WebhookSignatureException("the secret is empty");
        Checked checked = checked(headers, tolerance, now, 32);
        byte[] expected;
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(secret.getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
            expected = mac.doFinal(hmacSignedString(pathAndQuery, body, checked.timestamp(), checked.nonce())
                    .getBytes(StandardCharsets.UTF_8));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("the JDK has no HmacSHA256", e);
        }
        if (!MessageDigest.isEqual(expected, checked.signature())) {
            throw new WebhookSignatureException("the signature does not verify");
        }
    }

    /** The exact text an HMAC-signed delivery signs. */
    public static String hmacSignedString(String pathAndQuery, byte[] body, long timestamp, String nonce) {
        return HMAC_SCHEME + "\nPOST\n" + pathAndQuery + "\n" + timestamp + "\n" + nonce + "\n" + Signing.bodySha256Hex(body);
    }

    private static Checked checked(Map<String, List<String>> headers, Duration tolerance, Instant now, int signatureBytes) {
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
        if (signature.length != signatureBytes) {
            throw new WebhookSignatureException("the signature is not " + signatureBytes + " bytes");
        }
        return new Checked(timestamp, nonce, signature);
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
