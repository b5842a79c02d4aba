package dev.zenith.storage.lmdb;

import dev.zenith.storage.image.Blobs;

import java.util.concurrent.atomic.AtomicLong;

/**
 * Tells whether a read transaction is open while an evicted value downloads: at the first download, an eviction frees
 * pages the way the offload's does ({@link CacheRoom#freeing}: every value not evicted yet, say a filler the test
 * wrote after evicting the rest), and the room says how much of it a reader from before keeps from reuse
 * ({@link CacheRoom#pinnedBytes}): what a writer meanwhile would take at the end of LMDB's file instead. Use it as the
 * {@code onDownload} of {@link EvictedToMemory#evictAll}.
 */
public final class ReaderAtDownload implements Runnable {
    private final ColdValues cold;
    private final CacheRoom room;
    private final AtomicLong freed = new AtomicLong(-1);
    private final AtomicLong pinned = new AtomicLong(-1);

    public ReaderAtDownload(ColdValues cold, CacheRoom room) {
        this.cold = cold;
        this.room = room;
        room.bound(1L << 40); // admission counts what a reader pins only under a bound: one nothing here comes near
    }

    @Override
    public void run() {
        if (freed.get() >= 0) {
            return;
        }
        freed.set(room.freeing(() -> {
            long f = 0;
            for (ColdValues.Segment s : cold.coldest(Long.MAX_VALUE, 1 << 20)) {
                f += cold.evict(s, Blobs.sha256(s.bytes())); // never read back: the filler's
            }
            return f;
        }));
        room.admissible(); // lets go of what no open reader pins any more
        pinned.set(room.pinnedBytes());
    }

    /** The bytes the eviction at the first download freed (-1: no download). */
    public long freedAtFirstDownload() {
        return freed.get();
    }

    /** What of them an open read transaction kept from reuse right after (-1: no download). */
    public long pinnedAtFirstDownload() {
        return pinned.get();
    }
}
