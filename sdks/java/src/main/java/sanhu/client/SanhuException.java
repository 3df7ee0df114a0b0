package sanhu.client;

/** Anything this SDK throws on its own account (unchecked). */
public class SanhuException extends RuntimeException {
    public SanhuException(String message) {
        super(message);
    }

    public SanhuException(String message, Throwable cause) {
        super(message, cause);
    }
}
