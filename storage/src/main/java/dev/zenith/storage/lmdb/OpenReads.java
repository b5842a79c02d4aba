package dev.zenith.storage.lmdb;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The read transactions open on a store and the snapshot each reads: LMDB reuses the pages a commit freed only once
 * no reader holds a snapshot from before it, so what eviction frees is room for the next writer only then
 * ({@link CacheRoom#freeing}). Every read transaction the store hands out is counted here while open: plain ones
 * ({@link ReadTxn}), pooled ones ({@link ReadTxnPool}) and a copy's. Thread-safe; nothing here blocks.
 */
final class OpenReads {
    private final Set<Reading> open = ConcurrentHashMap.newKeySet();
    /**
     * A transaction id every read transaction that begins from now on reads at least ({@link #committed}): what a read
     * counts as until its transaction has begun.
     */
    private volatile long committed;

    /** One read under way; {@link #began} once its transaction has its snapshot. */
    static final class Reading {
        private volatile long snapshot;

        /** The transaction began and reads the snapshot LMDB numbers {@code txnId}. */
        void began(long txnId) {
            snapshot = txnId;
        }
    }

    /** Registers a read about to begin its transaction (a check meanwhile counts the snapshot it will read at least). */
    Reading starting() {
        Reading r = new Reading();
        starting(r);
        return r;
    }

    /** As {@link #starting()}, for a reading kept with a reused transaction. */
    void starting(Reading r) {
        r.snapshot = committed;
        open.add(r);
    }

    void ended(Reading r) {
        open.remove(r);
    }

    /** Transaction {@code txnId} has committed: reads that begin from now on read its snapshot or a later one. */
    void committed(long txnId) {
        committed = Math.max(committed, txnId);
    }

    /** The oldest snapshot an open read transaction reads (or, still beginning, reads at least); Long.MAX_VALUE if none. */
    long oldest() {
        long oldest = Long.MAX_VALUE;
        for (Reading r : open) {
            oldest = Math.min(oldest, r.snapshot);
        }
        return oldest;
    }
}
