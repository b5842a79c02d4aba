package dev.zenith.objectstore;

/**
 * A failed call to an object store, classified so callers can decide: try again later
 * ({@link Kind#UNAVAILABLE}), or report a configuration problem that waiting will not fix.
 */
public class ObjectStoreException extends RuntimeException {
    public enum Kind {
        /** Server down, connection refused or reset, timeouts, 5xx, throttling (429, SlowDown). */
        UNAVAILABLE(true),
        /** Bad or missing credentials, or not allowed (403, InvalidAccessKeyId, SignatureDoesNotMatch). */
        ACCESS_DENIED(false),
        NO_SUCH_BUCKET(false),
        /** A conditional write or read was refused (412) or conflicted (409). */
        PRECONDITION_FAILED(false),
        /** The stored bytes are not what was written (checksum, size or name mismatch). */
        CORRUPT(false),
        /** Anything else the server refused (4xx): a bug or an unsupported server. */
        REFUSED(false);

        private final boolean retryable;

        Kind(boolean retryable) {
            this.retryable = retryable;
        }

        public boolean retryable() {
            return retryable;
        }
    }

    private final Kind kind;

    public ObjectStoreException(Kind kind, String message, Throwable cause) {
        super(message, cause);
        this.kind = kind;
    }

    public ObjectStoreException(Kind kind, String message) {
        this(kind, message, null);
    }

    public Kind kind() {
        return kind;
    }

    /** Whether the same call may succeed later without anyone changing the configuration. */
    public boolean retryable() {
        return kind.retryable();
    }
}
