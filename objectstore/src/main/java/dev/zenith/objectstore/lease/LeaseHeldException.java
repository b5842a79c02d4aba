package dev.zenith.objectstore.lease;

import dev.zenith.objectstore.ObjectStoreException;

import java.time.Instant;

/** Another daemon holds (or just took) the prefix: refused, nothing changed. */
public final class LeaseHeldException extends ObjectStoreException {
    private final LeaseRecord holder;

    public LeaseHeldException(String where, LeaseRecord holder) {
        super(Kind.PRECONDITION_FAILED, where + " is in use by " + holder.owner() + " (lease generation " + holder.generation()
                + ", expires " + Instant.ofEpochMilli(holder.expiresAt()) + " unless renewed)");
        this.holder = holder;
    }

    public LeaseRecord holder() {
        return holder;
    }
}
