package dev.zenith.storage.index;

import dev.zenith.storage.failure.StoreException;

/** The page index cannot answer at that LSN (yet): it starts later, or has not been written that far. */
public class IndexNotReadyException extends StoreException {
    public IndexNotReadyException(String message) {
        super(message);
    }
}
