package dev.zenith.storage.lmdb;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;
import java.util.function.ToLongFunction;

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

    /** One read under way, from {@link #open} to {@link #ended}. */
    static final class Reading {
        private volatile long snapshot;
    }

    /**
     * Opens a read's transaction with {@code opener}, counted meanwhile as reading at least the last commit's snapshot,
     * then as reading {@code snapshotOf} the opened one (LMDB's transaction id) until {@link #ended}; uncounted again if
     * opening fails. {@code r} is a new {@link Reading} or one kept with a reused transaction.
     */
    <T> T open(Reading r, Supplier<T> opener, ToLongFunction<? super T> snapshotOf) {
        r.snapshot = committed;
        open.add(r);
        try {
            T opened = opener.get();
            r.snapshot = snapshotOf.applyAsLong(opened);
            return opened;
        } catch (RuntimeException e) {
            ended(r);
            throw e;
        }
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
