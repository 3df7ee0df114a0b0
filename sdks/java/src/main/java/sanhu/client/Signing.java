package sanhu.client;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyPairGenerator;
import java.security.MessageDigest;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.spec.NamedParameterSpec;
import java.security.spec.X509EncodedKeySpec;
import java.util.Arrays;
import java.util.Base64;
import java.util.HexFormat;

/**
 * The request signature (docs/SECURITY.md): Ed25519 over
 *
 * <pre>SANHU-ED25519-V1\n{METHOD}\n{path and query, as sent}\n{timestamp}\n{nonce}\n{hex SHA-256 of the body}</pre>
 *
 * sent as four headers: X-Sanhu-Client, X-Sanhu-Timestamp (unix seconds), X-Sanhu-Nonce (16 to 64
 * of [A-Za-z0-9_-], never reused) and X-Sanhu-Signature (standard base64 of the 64-byte signature).
 * The JDK's own Ed25519 ({@code KeyFactory.getInstance("Ed25519")}).
 */
public final class Signing {
    private Signing() {}

    public static final String SCHEME = "SANHU-ED25519-V1";
    public static final String CLIENT_HEADER = "X-Sanhu-Client";
    public static final String TIMESTAMP_HEADER = "X-Sanhu-Timestamp";
    public static final String NONCE_HEADER = "X-Sanhu-Nonce";
    public static final String SIGNATURE_HEADER = "X-Sanhu-Signature";

    /** The DER prefix that makes a raw 32-byte Ed25519 public key an X.509 SubjectPublicKeyInfo. */
    private static final byte[] SPKI_PREFIX = HexFormat.of().parseHex("302a300506032b6570032100");
    private static final SecureRandom RANDOM = new SecureRandom();

    /** Lower-case hex SHA-256 of the body (of the empty string for no body). */
    public static String bodySha256Hex(byte[] body) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(body == null ? new byte[0] : body));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("the JDK has no SHA-256", e);
        }
    }

    /** The exact text that is signed. {@code pathAndQuery} is what the request line carries, byte for byte. */
    public static String signedString(String method, String pathAndQuery, byte[] body, long timestamp, String nonce) {
        return SCHEME + "\n" + method + "\n" + pathAndQuery + "\n" + timestamp + "\n" + nonce + "\n" + bodySha256Hex(body);
    }

    /**
     * Percent-encodes a path segment or a query name or value: every byte of its UTF-8 but
     * A-Z a-z 0-9 - . _ ~ becomes %XX (upper-case hex; a space is %20, never +). The signature
     * covers the query exactly as sent, so the SDK builds it with this one rule and signs what it sends.
     */
    public static String encodeComponent(String value) {
        StringBuilder out = new StringBuilder();
        for (byte b : value.getBytes(StandardCharsets.UTF_8)) {
            int c = b & 0xff;
            if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
                    || c == '-' || c == '.' || c == '_' || c == '~') {
                out.append((char) c);
            } else {
                out.append('%').append(Character.toUpperCase(Character.forDigit(c >> 4, 16)))
                        .append(Character.toUpperCase(Character.forDigit(c & 15, 16)));
            }
        }
        return out.toString();
    }

    /** 32 hex characters of operating-system randomness. */
    public static String newNonce() {
        byte[] bytes = new byte[16];
        RANDOM.nextBytes(bytes);
        return HexFormat.of().formatHex(bytes);
    }

    static byte[] decodeKey(String text, String what) {
        byte[] raw;
        try {
            raw = Base64.getDecoder().decode(text);
        } catch (IllegalArgumentException e) {
            raw = new byte[0];
        }
        if (raw.length != 32) throw new IllegalArgumentException("an Ed25519 " + what + " is standard base64 of 32 bytes");
        return raw;
    }

    /** A key pair from a 32-byte seed: the JDK derives the public key when it generates from the seed as randomness. */
    private static java.security.KeyPair keyPair(byte[] seed) {
        try {
            KeyPairGenerator generator = KeyPairGenerator.getInstance("Ed25519");
            generator.initialize(NamedParameterSpec.ED25519, new SecureRandom() {
                @Override
                public void nextBytes(byte[] bytes) {
                    System.arraycopy(seed, 0, bytes, 0, bytes.length);
                }
            });
            return generator.generateKeyPair();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("the JDK has no Ed25519", e);
        }
    }

    /** The key from the credential file's {@code private_key}: standard base64 of the 32-byte seed. */
    public static PrivateKey privateKey(String base64Seed) {
        return keyPair(decodeKey(base64Seed, "private key (seed)")).getPrivate();
    }

    /** Standard base64 of the raw 32-byte public key of a private key given as its base64 seed. */
    public static String publicKeyBase64(String base64Seed) {
        byte[] encoded = keyPair(decodeKey(base64Seed, "private key (seed)")).getPublic().getEncoded();
        return Base64.getEncoder().encodeToString(Arrays.copyOfRange(encoded, SPKI_PREFIX.length, encoded.length));
    }

    /** A public key from standard base64 of its raw 32 bytes. */
    public static PublicKey publicKey(String base64) {
        byte[] raw = decodeKey(base64, "public key");
        byte[] der = Arrays.copyOf(SPKI_PREFIX, SPKI_PREFIX.length + raw.length);
        System.arraycopy(raw, 0, der, SPKI_PREFIX.length, raw.length);
        try {
            return KeyFactory.getInstance("Ed25519").generatePublic(new X509EncodedKeySpec(der));
        } catch (GeneralSecurityException e) {
            throw new IllegalArgumentException("not an Ed25519 public key", e);
        }
    }
}
