package sanhu.client;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.PrivateKey;
import java.security.Signature;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Map;

/** Signs requests as one API client. Thread-safe. */
public final class Signer {
    private final String clientId;
    private final PrivateKey key;

    /** The client id and the credential's {@code private_key} (standard base64 of the 32-byte seed). */
    public Signer(String clientId, String privateKey) {
        this.clientId = clientId;
        this.key = Signing.privateKey(privateKey);
    }

    public String clientId() {
        return clientId;
    }

    /** The four signature headers of one request, with the given timestamp and nonce. */
    public Map<String, String> sign(String method, String pathAndQuery, byte[] body, long timestamp, String nonce) {
        byte[] text = Signing.signedString(method, pathAndQuery, body, timestamp, nonce).getBytes(StandardCharsets.UTF_8);
        byte[] signature;
        try {
            Signature ed25519 = Signature.getInstance("Ed25519");
            ed25519.initSign(key);
            ed25519.update(text);
            signature = ed25519.sign();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("Ed25519 signing failed", e);
        }
        Map<String, String> headers = new LinkedHashMap<>();
        headers.put(Signing.CLIENT_HEADER, clientId);
        headers.put(Signing.TIMESTAMP_HEADER, Long.toString(timestamp));
        headers.put(Signing.NONCE_HEADER, nonce);
        headers.put(Signing.SIGNATURE_HEADER, Base64.getEncoder().encodeToString(signature));
        return headers;
    }

    /** Signs with the current time and a fresh nonce. */
    public Map<String, String> signNow(String method, String pathAndQuery, byte[] body) {
        return sign(method, pathAndQuery, body, System.currentTimeMillis() / 1000, Signing.newNonce());
    }
}
