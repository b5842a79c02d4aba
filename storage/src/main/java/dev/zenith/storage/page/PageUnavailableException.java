package dev.zenith.storage.page;

import dev.zenith.storage.failure.StoreException;

/**
 * A {@link PageSource} question with no exact answer: what was asked for does not exist at that LSN,
 * or the store cannot tell exactly yet. The message says which, for the client.
 */
public final class PageUnavailableException extends StoreException {
    public enum Reason {
        /** The relation, database or SLRU segment does not exist at the LSN. */
        NOT_FOUND,
        /** It may exist, but the store has no exact answer at that LSN (yet). */
        NOT_MATERIALIZED
    }

    private final Reason reason;

    public PageUnavailableException(Reason reason, String message) {
        super(message);
        this.reason = reason;
    }

    public Reason reason() {
        return reason;
    }
}
