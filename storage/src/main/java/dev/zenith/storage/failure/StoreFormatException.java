package dev.zenith.storage.failure;

/** The directory is not a Zenith store (foreign files, another LMDB database, or a damaged data file). */
public class StoreFormatException extends StoreException {
    public StoreFormatException(String message) {
        super(message);
    }

    public StoreFormatException(String message, Throwable cause) {
        super(message, cause);
    }
}
