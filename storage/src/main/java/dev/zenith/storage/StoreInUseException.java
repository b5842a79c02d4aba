package dev.zenith.storage;

/** The store is open in another process (another zenith daemon); it is left untouched. */
public class StoreInUseException extends StoreException {
    public StoreInUseException(String message) {
        super(message);
    }
}
