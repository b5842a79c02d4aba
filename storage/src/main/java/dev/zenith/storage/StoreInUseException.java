package dev.zenith.storage;

import dev.zenith.storage.failure.StoreException;

/** The store is open in another process (another zenith daemon); it is left untouched. */
public class StoreInUseException extends StoreException {
    public StoreInUseException(String message) {
        super(message);
    }
}
