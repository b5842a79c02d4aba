package dev.zenith.storage.failure;

/** Something went wrong inside the store (LMDB error, I/O error while importing or materializing). */
public class StoreException extends RuntimeException {
    public StoreException(String message) {
        super(message);
    }

    public StoreException(String message, Throwable cause) {
        super(message, cause);
    }
}
