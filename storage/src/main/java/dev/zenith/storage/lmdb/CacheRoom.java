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
 * stops reading the compute's stream once enough waits: commits wait, nothing acknowledged is lost. A refused ask
 * that could fit under the bound is remembered ({@link #waitingAsk}) while its asker keeps asking: eviction then runs
 * for it even below {@link #EVICT_ABOVE} and goes down as far as it needs ({@link #evictionTarget}), so that no ask
 * waits in the band where it does not fit and eviction does not start (an ask above 30% of the bound could, for good).
 * What a writer is admitted for is held as a {@link Grant} until its transaction commits (or aborts): every later
 * admission counts it beside the measured bytes, so two writers admitted at once cannot both take the last room (a
 * WAL batch and a materialization step's part, each admitted on the same reading, took a 48 MiB store to 53 MB).
 * Unbounded (the default, a native storage) admits everything. Thread-safe; never blocks but in {@link #awaitRoom}.
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
    /**
     * A refused ask is made room for until this long after its last refusal: longer than a materialization step's
     * retries (each anchor, at least every checkpoint_timeout of 60 s); WAL asks again every 50 ms.
     */
    static final long ASK_HOLDS_NANOS = 150_000_000_000L;

    private final LongSupplier measure;
    private final LongSupplier measureIndex;
    private volatile long bound;
    private volatile long measured = -1;
    private volatile long measuredAt;
    /** Bumped whenever a measure may be stale (a grant released, {@link #changed}): a measure begun before is not kept. */
    private volatile long generation;
    /** When growth was last refused and not admitted since; null while everything is admitted. */
    private volatile Instant fullSince;
    /** The largest ask refused lately that fits under the bound once eviction makes room (0: none). */
    private volatile long waiting;
    private volatile long waitingSince;
    /** Bytes admitted to writers whose transactions have not committed yet (open {@link Grant}s). */
    private long inFlight;
    /** What holds the used bytes when eviction last found nothing more it may evict ({@link #atFloor}); null since it freed some. */
    private volatile String floor;
    /**
     * One small commit: what makes pages freed by the commit before it reusable by the next writer ({@link #freeing});
     * returns its transaction id.
     */
    private final LongSupplier settle;
    /** The oldest snapshot an open read transaction reads (Long.MAX_VALUE if none): LMDB's bar to reusing freed pages. */
    private final LongSupplier oldestRead;
    /** Evictions under way in {@link #freeing}; while any, admission sees {@link #heldUsed} at least. */
    private int freeingNow;
    /** The used bytes measured when the first of the evictions under way began. */
    private long heldUsed;
    /**
     * Bytes evictions freed that LMDB cannot reuse yet: a reader of a snapshot from before {@link #settledAt} is still
     * open. Admission counts them as used until no such reader is (a writer meanwhile would take new pages at the file's
     * end: at 48 MiB reads begun around a freeing commit kept 5,000-9,000 freed pages out of reuse, a 61 MB file).
     */
    private long pinned;
    /** The last settle commit's transaction id: freed pages are reusable once every open reader's snapshot is at least it. */
    private long settledAt;

    /** {@code indexBytes}: what of the used bytes the page index holds (never evicted). */
    CacheRoom(LongSupplier usedBytes, LongSupplier indexBytes) {
        this(usedBytes, indexBytes, () -> 0, () -> Long.MAX_VALUE);
    }

    /**
     * As above; {@code settle}: one small durable commit of nothing that matters, returning its transaction id
     * ({@link #freeing}); {@code oldestRead}: the oldest snapshot an open read transaction reads (Long.MAX_VALUE if none).
     */
    CacheRoom(LongSupplier usedBytes, LongSupplier indexBytes, LongSupplier settle, LongSupplier oldestRead) {
        this.measure = usedBytes;
        this.measureIndex = indexBytes;
        this.settle = settle;
        this.oldestRead = oldestRead;
    }

    /**
     * Runs {@code evict}, commits that free pages (eviction's), then one small commit more when it freed any: LMDB reuses
     * the pages a transaction frees only from the second transaction after it, and only once no reader holds a snapshot
     * from before it, so a writer admitted on the lower used bytes right after the freeing commit took its pages at the
     * end of the file instead: that grew a 16 MiB store's file to 21-23 MB. Until the extra commit, admission keeps
     * seeing the used bytes measured before the eviction; after it, the bytes freed still count as used while a read
     * transaction of a snapshot from before that commit is open ({@link #pinned}). {@link #usedBytes} itself, what
     * eviction steers by, is measured as always. Returns what {@code evict} returns (the bytes it freed).
     */
    public long freeing(LongSupplier evict) {
        long before = usedBytes();
        synchronized (this) {
            if (freeingNow++ == 0) {
                heldUsed = before;
            }
        }
        long settledId = 0;
        try {
            long freed = evict.getAsLong();
            if (freed > 0) {
                settledId = settle.getAsLong();
            }
            return freed;
        } finally {
            changed();
            long after = settledId > 0 ? usedBytes() : before;
            synchronized (this) {
                if (settledId > 0) {
                    pinned += Math.max(0, before - after);
                    settledAt = Math.max(settledAt, settledId);
                }
                freeingNow--;
            }
        }
    }

    /**
     * The used bytes admission counts: as measured, but not below those of before an eviction still settling, and with
     * what evictions freed while a reader from before their settle commit is open.
     */
    private synchronized long admissionUsed() {
        long used = usedBytes();
        if (pinned > 0 && oldestRead.getAsLong() >= settledAt) {
            pinned = 0; // every reader now reads a snapshot from after the settle commit: the freed pages are reusable
        }
        used += pinned;
        return freeingNow > 0 ? Math.max(used, heldUsed) : used;
    }

    /** Bytes evictions freed that no writer may reuse yet (a read transaction from before is open); 0 when none. */
    public synchronized long pinnedBytes() {
        return pinned;
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
        long m = measured;
        if (m < 0 || now - measuredAt > FRESH_NANOS) {
            long gen = generation;
            m = measure.getAsLong();
            synchronized (this) {
                if (gen == generation) { // else a write committed meanwhile may be missing from it: not kept
                    measured = m;
                    measuredAt = now;
                }
            }
        }
        return m;
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
        return b > 0 && indexBytes() > usualTarget();
    }

    /** Why growth waits, for whoever shows it ({@link #fullSince}): the figures and what would help. */
    public String fullReason() {
        long index = indexBytes();
        String figures = usedBytes() + " of " + bound + " bytes used, " + index + " of them the page index, never evicted";
        if (index > usualTarget()) {
            return "the storage's local cache is at its bound (" + figures + "): the page index alone fills it, so new WAL"
                    + " (commits) waits until the cache size is raised or storage gc (a shorter --pitr) frees index entries";
        }
        String held = floor;
        if (held != null) {
            return "the storage's local cache is at its bound (" + figures + ") and eviction has nothing more it may evict ("
                    + held + "): new WAL (commits) waits until S3 takes the WAL it does not hold yet, the cache size is"
                    + " raised or storage gc frees entries";
        }
        return "the storage's local cache is at its bound (" + figures + ") and nothing more can be evicted until S3"
                + " holds it: new WAL (commits) waits";
    }

    /**
     * Eviction found nothing more it may evict (every value big enough is a pointer already; WAL S3 does not hold stays):
     * the used bytes now are the floor eviction can bring the store to, and {@code what} says what holds them. Until
     * eviction frees something again ({@link #aboveFloor}), a write that waits for room goes in alone if it fits under
     * the bound itself ({@link #admitOrAtTarget}): waiting longer would free nothing, and a wait reason names the floor.
     */
    public void atFloor(String what) {
        floor = what;
    }

    /** Eviction freed something: the store is above the floor it can be brought to. */
    public void aboveFloor() {
        floor = null;
    }

    /** What holds the used bytes while eviction has nothing more it may evict (null while it still frees some). */
    public String floor() {
        return floor;
    }

    /** Measure again at the next question: the caller just freed or wrote a lot. */
    public synchronized void changed() {
        generation++;
        measured = -1;
    }

    /**
     * Whether {@code bytes} more (the caller's upper estimate of what its write adds) would keep the store under
     * {@link #ADMIT_UP_TO} of the bound now, beside what writers were admitted for and have not committed: a check
     * that reserves nothing (a writer asks {@link #admit} right before it writes). A refusal is remembered
     * ({@link #fullSince}, {@link #waitingAsk}) until something is admitted.
     */
    public synchronized boolean admits(long bytes) {
        long b = bound;
        if (b <= 0) {
            return true;
        }
        boolean ok = fits(bytes);
        if (ok) {
            admitted(bytes);
        } else {
            refused(bytes);
        }
        return ok;
    }

    /**
     * Admits a writer's {@code bytes} (its upper estimate), held until the returned grant is closed once its
     * transaction committed or aborted; null when they do not fit now (the refusal remembered as in {@link #admits}).
     */
    public synchronized Grant admit(long bytes) {
        return admits(bytes) ? grant(bytes) : null;
    }

    /**
     * {@link #admit}, or else, while no other writer holds a grant, whether the store is down to the eviction target,
     * or at the floor eviction can reach ({@link #atFloor}) with room for {@code bytes} under the bound itself: nothing
     * is gained by waiting longer, so a write bigger than the room eviction leaves goes in then (alone). Null when refused.
     */
    public synchronized Grant admitOrAtTarget(long bytes) {
        Grant g = admit(bytes);
        if (g != null) {
            return g;
        }
        long used = admissionUsed();
        if (inFlight == 0 && (used <= evictionTarget() || (floor != null && used + bytes <= bound))) {
            admitted(bytes);
            return grant(bytes);
        }
        return null;
    }

    /**
     * For a writer that can split what it writes ({@code max} bytes, upper estimate) into transactions of at least
     * {@code min}: {@link #admitOrAtTarget} for the whole, but at the floor eviction reached ({@link #atFloor}) a grant
     * only for as much as keeps the store under {@link #ADMIT_UP_TO} of the bound beside the other grants (at least
     * {@code min}), or {@code min} alone if not even that fits there, under the bound itself: where
     * {@link #admitOrAtTarget} lets the whole batch in alone up to the bound (a batch writer's eighth of it took used
     * bytes to 96-100%). The writer writes what {@link Grant#granted} says and asks again for the rest. Away from the
     * floor a batch waits whole for eviction, as before: granting whatever room is left keeps the store near 90% all the
     * time, and LMDB's file then grew more (56.5 MB median against 52.7 at 48 MiB). Null when refused.
     */
    public synchronized Grant admitUpTo(long min, long max) {
        Grant whole = admitOrAtTargetBelowFloor(max);
        if (whole != null || floor == null) {
            return whole;
        }
        long used = admissionUsed();
        long room = admitLimit() - used - inFlight;
        long take = room >= min ? Math.min(max, room) : inFlight == 0 && used + min <= bound ? min : 0;
        if (take == 0) {
            return null; // refused: remembered for the whole by the ask above
        }
        admitted(take);
        return grant(take);
    }

    /** {@link #admitOrAtTarget} without its going in alone at the floor (the caller decides that). */
    private Grant admitOrAtTargetBelowFloor(long bytes) {
        Grant g = admit(bytes);
        if (g != null || bound <= 0) {
            return g;
        }
        if (inFlight == 0 && admissionUsed() <= evictionTarget()) {
            admitted(bytes);
            return grant(bytes);
        }
        return null;
    }

    /**
     * Waits (blocking, never on an event loop) until {@link #admitUpTo} grants at least {@code min} of {@code max}
     * bytes: the grant ({@link Grant#granted} says how much), to be closed once the write committed or aborted. Past
     * {@code wait} a {@link StoreException} naming {@code what}: the caller writes nothing more.
     */
    public Grant awaitRoomUpTo(long min, long max, Duration wait, String what) {
        return awaitGrant(() -> admitUpTo(min, max), min, wait, what);
    }

    private boolean fits(long bytes) {
        return admissionUsed() + inFlight + bytes <= admitLimit();
    }

    private void refused(long bytes) {
        if (fullSince == null) {
            fullSince = Instant.now();
        }
        remember(bytes);
    }

    private Grant grant(long bytes) {
        if (bound <= 0) {
            return new Grant(0, bytes); // unbounded: nothing to count
        }
        inFlight += bytes;
        return new Grant(bytes, bytes);
    }

    private synchronized void release(long bytes) {
        inFlight -= bytes;
        changed(); // what the writer committed shows in the next measure, no longer in the grant
    }

    /**
     * Room a writer was admitted for: counted by every later admission until {@link #close} (after the writer's
     * transaction committed or aborted). Closing twice releases once.
     */
    public final class Grant implements AutoCloseable {
        private long bytes;
        private final long granted;

        private Grant(long bytes, long granted) {
            this.bytes = bytes;
            this.granted = granted;
        }

        /** The bytes the writer was admitted for (its upper estimate; for {@link #admitUpTo}, what of its ask fit). */
        public long granted() {
            return granted;
        }

        /** Takes {@code more} bytes too, already checked to fit ({@link #admissible}). */
        public void add(long more) {
            synchronized (CacheRoom.this) {
                if (bound > 0) {
                    inFlight += more;
                    bytes += more;
                }
            }
        }

        @Override
        public void close() {
            long b;
            synchronized (CacheRoom.this) {
                b = bytes;
                bytes = 0;
            }
            release(b);
        }
    }

    private void admitted(long bytes) {
        if (fullSince != null) {
            fullSince = null;
        }
        if (bytes >= waiting) {
            waiting = 0; // the largest ask waiting went in (or one as large: its asker asks again if it still waits)
        }
    }

    /**
     * Whether {@code bytes} could ever be admitted: they fit under {@link #ADMIT_UP_TO} of the bound in an otherwise
     * empty store (always, unbounded). An ask that cannot is never made room for; its asker must not wait for it.
     */
    public boolean canEverAdmit(long bytes) {
        return bound <= 0 || bytes <= admitLimit();
    }

    /**
     * What more may be added now without a refusal (Long.MAX_VALUE unbounded): for whoever adds more after an ask was
     * admitted (the next batches that still fit). Asks nothing, remembers nothing.
     */
    public synchronized long admissible() {
        return bound <= 0 ? Long.MAX_VALUE : Math.max(0, admitLimit() - admissionUsed() - inFlight);
    }

    /**
     * How many page versions a writer of many ({@link #STORED_PAGE_BYTES} each at most) puts in one LMDB transaction:
     * under a bound, an eighth of it, so that eviction can make room for one transaction at a time whatever the total
     * (at least one page); unbounded, all of them ({@code Integer.MAX_VALUE}).
     */
    public int pagesPerTransaction() {
        long b = bound;
        return b <= 0 ? Integer.MAX_VALUE : (int) Math.max(1, Math.min(Integer.MAX_VALUE, b / 8 / STORED_PAGE_BYTES));
    }

    /**
     * The largest batch of WAL to take into the store at once, {@code configured} unbounded: under a bound, one whose
     * upper estimate ({@code storedPerByte} stored bytes per WAL byte) is an eighth of the bound (at least 64 KiB of
     * WAL). A batch is one LMDB transaction with its index: one asking more than what eviction can free beside the page
     * index (never evicted) would wait for good (4 MiB batches, asking 8 MiB, against a 12 MiB bound holding a 3 MB
     * index: eviction could not go below 2.9 MB).
     */
    public int walBatchBytes(int configured, int storedPerByte) {
        long b = bound;
        return b <= 0 ? configured : (int) Math.min(configured, Math.max(64 << 10, b / 8 / storedPerByte));
    }

    private long admitLimit() {
        return (long) (bound * ADMIT_UP_TO);
    }

    /** A refused ask eviction can make room for: remembered (the largest of those asked lately) until admitted. */
    private void remember(long bytes) {
        if (!canEverAdmit(bytes)) {
            return;
        }
        long now = System.nanoTime();
        if (bytes >= waiting || now - waitingSince > ASK_HOLDS_NANOS) {
            waiting = bytes;
            waitingSince = now;
        }
    }

    /** The largest ask refused lately (asked again within {@link #ASK_HOLDS_NANOS}), not admitted since; 0 if none. */
    public long waitingAsk() {
        long w = waiting;
        return w > 0 && System.nanoTime() - waitingSince <= ASK_HOLDS_NANOS ? w : 0;
    }

    /**
     * Waits (blocking, never on an event loop) until {@link #admitOrAtTarget} grants {@code bytes}: the grant, to be
     * closed once the write committed or aborted. Past {@code max} a {@link StoreException} naming {@code what}: the
     * caller writes nothing.
     */
    public Grant awaitRoom(long bytes, Duration max, String what) {
        return awaitGrant(() -> admitOrAtTarget(bytes), bytes, max, what);
    }

    private Grant awaitGrant(java.util.function.Supplier<Grant> ask, long bytes, Duration max, String what) {
        long deadline = System.nanoTime() + max.toNanos();
        Grant g;
        while ((g = ask.get()) == null) {
            if (System.nanoTime() > deadline) {
                String held = floor;
                throw new StoreException(what + " waited " + max.toSeconds() + " s for room under the storage's cache bound ("
                        + usedBytes() + " of " + bound + " bytes used, " + bytes + " asked) and "
                        + (held != null ? "eviction has nothing more it may evict (" + held + ")"
                        : "S3 did not take enough to evict meanwhile"));
            }
            try {
                Thread.sleep(ROOM_POLL_MS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new StoreException(what + " was interrupted while it waited for room under the cache bound");
            }
            changed();
        }
        return g;
    }

    private static final long ROOM_POLL_MS = 50;

    /** {@link #EVICT_DOWN_TO} of the bound: where eviction stops when no ask needs more room. */
    private long usualTarget() {
        return (long) (bound * EVICT_DOWN_TO);
    }

    /** Since when growth waits for room (null while none does). */
    public Instant fullSince() {
        return fullSince;
    }

    /**
     * Whether {@code bytes} more keep the store at or under {@link #EVICT_ABOVE} of the bound (beside what writers
     * were granted): what is only worth keeping (values read back from S3) goes in without making eviction run.
     * Unbounded: always. Remembers nothing.
     */
    public synchronized boolean keeps(long bytes) {
        long b = bound;
        // while an ask waits for room, nothing merely worth keeping takes it
        return b <= 0 || (waitingAsk() == 0 && admissionUsed() + inFlight + bytes <= (long) (b * EVICT_ABOVE));
    }

    /** {@link #keeps}, held as a grant until the write committed; null when it does not keep. */
    public synchronized Grant keep(long bytes) {
        return keeps(bytes) ? grant(bytes) : null;
    }

    /**
     * Whether eviction should run: the store is above {@link #EVICT_ABOVE} of its bound, or above the target an ask
     * waiting for room needs ({@link #evictionTarget}).
     */
    public boolean evictionWanted() {
        long b = bound;
        if (b <= 0) {
            return false;
        }
        long used = usedBytes();
        return used > (long) (b * EVICT_ABOVE) || (waitingAsk() > 0 && used > evictionTarget());
    }

    /**
     * The used bytes eviction brings the store down to: {@link #EVICT_DOWN_TO} of the bound, or lower when an ask
     * waits that needs more room ({@link #ADMIT_UP_TO} of the bound less the ask): at the target it is admitted.
     */
    public long evictionTarget() {
        long target = usualTarget();
        long ask = waitingAsk();
        return ask > 0 ? Math.max(0, Math.min(target, admitLimit() - ask)) : target;
    }
}
