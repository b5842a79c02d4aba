package dev.zenith.storage.lmdb;

import dev.zenith.storage.failure.StoreException;

import java.time.Duration;
import java.time.Instant;
import java.util.function.LongSupplier;

/**
 * How much room a store's bound (an s3 storage's cache size) leaves, for whoever grows the store. Eviction
 * (the offload) starts above {@link #EVICT_ABOVE} of the bound and brings the store down to {@link #EVICT_DOWN_TO};
 * what grows it (WAL going into LMDB, a materialization step) is admitted only while the store stays under
 * {@link #ADMIT_UP_TO} with it, so used bytes stay under the bound even while eviction cannot keep up (S3
 * unreachable: nothing S3 does not hold is evicted). WAL refused here waits in the journal, and the receiver
 * stops reading the compute's stream once enough waits: commits wait, nothing acknowledged is lost. Unbounded
 * (the default, a native storage) admits everything. Thread-safe; never blocks.
 */
public final class CacheRoom {
    /** Eviction starts above this share of the bound. */
    public static final double EVICT_ABOVE = 0.6;
    /** Eviction brings the store down to this share of the bound, so that it is not at its limit after each pass. */
    public static final double EVICT_DOWN_TO = 0.45;
    /** Growth is admitted while the store, grown by it, stays under this share of the bound. */
    static final double ADMIT_UP_TO = 0.9;
    /** A stored page version takes at most this much of LMDB (8 KiB lz4 cannot shrink: three 4 KiB overflow pages). */
    public static final long STORED_PAGE_BYTES = 12 << 10;
    /** Used bytes are measured again when older than this (a read transaction and a stat per table). */
    private static final long FRESH_NANOS = 20_000_000L;

    private final LongSupplier measure;
    private final LongSupplier measureIndex;
    private volatile long bound;
    private volatile long measured = -1;
    private volatile long measuredAt;
    /** When growth was last refused and not admitted since; null while everything is admitted. */
    private volatile Instant fullSince;

    /** {@code indexBytes}: what of the used bytes the page index holds (never evicted). */
    CacheRoom(LongSupplier usedBytes, LongSupplier indexBytes) {
        this.measure = usedBytes;
        this.measureIndex = indexBytes;
    }

    /** Sets the bound in bytes (0: unbounded). */
    public void bound(long bytes) {
        this.bound = Math.max(0, bytes);
        if (bytes <= 0) {
            fullSince = null;
        }
    }

    public long bound() {
        return bound;
    }

    /** LMDB's used bytes, measured at most {@link #FRESH_NANOS} ago. */
    public long usedBytes() {
        long now = System.nanoTime();
        if (measured < 0 || now - measuredAt > FRESH_NANOS) {
            measured = measure.getAsLong();
            measuredAt = now;
        }
        return measured;
    }

    /**
     * The bytes of the page index (block changes, relation sizes, databases): entries eviction never takes, so that
     * once they alone fill the room under {@link #ADMIT_UP_TO} of the bound, growth waits until the bound is raised or
     * GC frees index entries. Measured on each call (a stat per index table).
     */
    public long indexBytes() {
        return measureIndex.getAsLong();
    }

    /**
     * Whether the page index alone holds more than eviction's target ({@link #EVICT_DOWN_TO} of the bound): eviction
     * cannot bring the store down to it any more, and growth will soon wait for good. False when unbounded.
     */
    public boolean indexCrowds() {
        long b = bound;
        return b > 0 && indexBytes() > evictionTarget();
    }

    /** Why growth waits, for whoever shows it ({@link #fullSince}): the figures and what would help. */
    public String fullReason() {
        long index = indexBytes();
        String figures = usedBytes() + " of " + bound + " bytes used, " + index + " of them the page index, never evicted";
        if (index > evictionTarget()) {
            return "the storage's local cache is at its bound (" + figures + "): the page index alone fills it, so new WAL"
                    + " (commits) waits until the cache size is raised or storage gc (a shorter --pitr) frees index entries";
        }
        return "the storage's local cache is at its bound (" + figures + ") and nothing more can be evicted until S3"
                + " holds it: new WAL (commits) waits";
    }

    /** Measure again at the next question: the caller just freed or wrote a lot. */
    public void changed() {
        measured = -1;
    }

    /**
     * Whether {@code bytes} more (the caller's upper estimate of what its write adds) keep the store under
     * {@link #ADMIT_UP_TO} of the bound. A refusal is remembered ({@link #fullSince}) until something is admitted.
     */
    public boolean admits(long bytes) {
        long b = bound;
        if (b <= 0) {
            return true;
        }
        boolean ok = usedBytes() + bytes <= (long) (b * ADMIT_UP_TO);
        if (ok) {
            if (fullSince != null) {
                fullSince = null;
            }
        } else if (fullSince == null) {
            fullSince = Instant.now();
        }
        return ok;
    }

    /**
     * Waits (blocking, never on an event loop) until {@link #admits} {@code bytes}, or until the store is down to
     * the eviction target (nothing more to gain by waiting: a write bigger than the room eviction leaves goes in
     * then). Past {@code max} a {@link StoreException} naming {@code what}: the caller writes nothing.
     */
    public void awaitRoom(long bytes, Duration max, String what) {
        long deadline = System.nanoTime() + max.toNanos();
        while (!admits(bytes)) {
            if (usedBytes() <= evictionTarget()) {
                return;
            }
            if (System.nanoTime() > deadline) {
                throw new StoreException(what + " waited " + max.toSeconds() + " s for room under the storage's cache bound ("
                        + usedBytes() + " of " + bound + " bytes used) and S3 did not take enough to evict meanwhile");
            }
            try {
                Thread.sleep(ROOM_POLL_MS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new StoreException(what + " was interrupted while it waited for room under the cache bound");
            }
            changed();
        }
    }

    private static final long ROOM_POLL_MS = 50;

    /** Since when growth waits for room (null while none does). */
    public Instant fullSince() {
        return fullSince;
    }

    /**
     * Whether {@code bytes} more keep the store at or under {@link #EVICT_ABOVE} of the bound: what is only worth
     * keeping (values read back from S3) goes in without making eviction run. Unbounded: always. Remembers nothing.
     */
    public boolean keeps(long bytes) {
        long b = bound;
        return b <= 0 || usedBytes() + bytes <= (long) (b * EVICT_ABOVE);
    }

    /** Whether the store is above {@link #EVICT_ABOVE} of its bound: eviction should run. */
    public boolean evictionWanted() {
        long b = bound;
        return b > 0 && usedBytes() > (long) (b * EVICT_ABOVE);
    }

    /** The used bytes eviction brings the store down to. */
    public long evictionTarget() {
        return (long) (bound * EVICT_DOWN_TO);
    }
}
