package dev.zenith.server.ingest;

import dev.zenith.storage.Store;
import dev.zenith.storage.lmdb.CacheRoom;
import dev.zenith.storage.wal.WalAppend;
import dev.zenith.storage.wal.WalAppends;
import dev.zenith.wal.Lsn;
import io.vertx.core.Vertx;
import io.vertx.core.WorkerExecutor;

import java.util.ArrayList;
import java.util.List;
import java.util.function.BooleanSupplier;

/**
 * A receiver's step 2: journaled (acknowledged) batches go into LMDB with their index, together, in fewer
 * bigger commits (each costs two syncs and its B-tree pages, whatever its size): at most every
 * {@code indexIntervalMs}, sooner once {@code maxBatchBytes} wait or someone waits for them. Lives on the
 * receiver's event-loop context; what reads or writes LMDB (the cache bound's room, the commit) runs on a worker.
 */
final class IndexBatcher {
    /** What the receiver hears, on its context. */
    interface Reports {
        void indexed(Lsn end);

        /** The commit failed; what it held is dropped here (the journal holds it durably). */
        void failed(Throwable cause);

        /** A commit's outcome was reported; {@code morePending}: another commit follows. */
        void settled(boolean morePending);
    }

    private final Vertx vertx;
    private final WorkerExecutor lmdbWorkers;
    private final Store store;
    private final long indexIntervalMs;
    private final int maxBatchBytes;
    private final ReceiverCounters counters;
    private final BooleanSupplier stopping;
    private final Reports reports;

    private final List<WalAppend> unindexed = new ArrayList<>(); // journaled (acknowledged), not yet in LMDB
    private long unindexedBytes;
    private boolean indexing;
    private long lastIndexNanos = System.nanoTime();
    private boolean indexRequested;
    private long indexTimer = -1;

    /** How often WAL held back for the store's cache bound asks again for room. */
    static final long ROOM_RETRY_MS = 50;
    /** WAL takes at most this many times its bytes in LMDB with its index (an upper estimate, for the bound). */
    static final int STORED_PER_WAL_BYTE = 2;

    IndexBatcher(Vertx vertx, WorkerExecutor lmdbWorkers, Store store, long indexIntervalMs, int maxBatchBytes,
                 ReceiverCounters counters, BooleanSupplier stopping, Reports reports) {
        this.vertx = vertx;
        this.lmdbWorkers = lmdbWorkers;
        this.store = store;
        this.indexIntervalMs = indexIntervalMs;
        this.maxBatchBytes = maxBatchBytes;
        this.counters = counters;
        this.stopping = stopping;
        this.reports = reports;
    }

    boolean indexing() {
        return indexing;
    }

    boolean hasUnindexed() {
        return !unindexed.isEmpty();
    }

    long unindexedBytes() {
        return unindexedBytes;
    }

    /**
     * How many of the oldest {@code waiting} batches fit under the store's cache bound together (all of them on an
     * unbounded store), the first already granted: the grant grows by the others taken. Reads LMDB (the used bytes):
     * on a worker, never on the event loop.
     */
    private int admitted(List<WalAppend> waiting, CacheRoom.Grant grant) {
        long first = waiting.get(0).bytes().length;
        long left = store.cacheRoom().admissible(); // the next ones only while all fit together beside the first
        long bytes = first;
        int n = 1;
        while (n < waiting.size()) {
            long next = bytes + waiting.get(n).bytes().length;
            if (STORED_PER_WAL_BYTE * (next - first) > left) {
                break;
            }
            bytes = next;
            n++;
        }
        grant.add(STORED_PER_WAL_BYTE * (bytes - first));
        return n;
    }

    void add(WalAppend batch) {
        unindexed.add(batch);
        unindexedBytes += batch.bytes().length;
        index();
    }

    /** Someone waits for LMDB: do not wait for the interval. */
    void indexNow() {
        if (indexTimer >= 0) {
            vertx.cancelTimer(indexTimer);
            indexTimer = -1;
        }
        indexRequested = true;
        index();
    }

    void index() {
        if (indexing || unindexed.isEmpty() || indexTimer >= 0) {
            return;
        }
        long waitMs = indexIntervalMs - (System.nanoTime() - lastIndexNanos) / 1_000_000;
        if (waitMs > 0 && unindexedBytes < maxBatchBytes && !stopping.getAsBoolean() && !indexRequested) {
            indexTimer = vertx.setTimer(waitMs, id -> {
                indexTimer = -1;
                index();
            });
            return;
        }
        lastIndexNanos = System.nanoTime();
        indexRequested = false;
        indexing = true;
        List<WalAppend> waiting = List.copyOf(unindexed); // only this context changes the list: its head stays
        lmdbWorkers.executeBlocking(() -> {
            CacheRoom.Grant grant = store.cacheRoom().admitOrAtTarget(STORED_PER_WAL_BYTE * waiting.get(0).bytes().length);
            if (grant == null) {
                return 0;
            }
            try (grant) { // held until the batch's transaction committed: no other writer takes its room meanwhile
                int n = admitted(waiting, grant);
                WalAppend merged = WalAppends.concat(waiting.subList(0, n));
                long t0 = System.nanoTime();
                store.wal().append(List.of(merged));
                counters.indexed(System.nanoTime() - t0);
                return n;
            }
        }, false).onComplete(ar -> {
            indexing = false;
            if (ar.succeeded() && ar.result() == 0) {
                // the store is at its cache bound (S3 does not hold enough to evict yet): the journal keeps the WAL,
                // and the receiver stops reading the stream once enough waits here (commits wait)
                indexTimer = vertx.setTimer(ROOM_RETRY_MS, id -> {
                    indexTimer = -1;
                    index();
                });
                return;
            }
            store.cacheRoom().changed();
            if (ar.succeeded()) {
                Lsn end = waiting.get(ar.result() - 1).end();
                unindexed.subList(0, ar.result()).clear();
                reports.indexed(end);
            } else {
                unindexed.clear();
                reports.failed(ar.cause());
            }
            unindexedBytes = 0;
            for (WalAppend a : unindexed) {
                unindexedBytes += a.bytes().length;
            }
            boolean more = !unindexed.isEmpty();
            reports.settled(more);
            if (more) {
                index();
            }
        });
    }
}
