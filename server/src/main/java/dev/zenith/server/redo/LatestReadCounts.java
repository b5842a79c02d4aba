package dev.zenith.server.redo;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.logging.Logger;

/**
 * How a store's GetPages outside an image's window were answered (where the time under writes goes): counted as they
 * are answered, logged at most every 10 s while they change (from the reads themselves: no thread of its own).
 */
final class LatestReadCounts {
    private static final Logger LOG = Logger.getLogger(LatestReadCounts.class.getName());
    private static final long LOG_NANOS = TimeUnit.SECONDS.toNanos(10);

    /** Counts since the start. */
    record Counts(long catchUps, long stored, long live, long redo) {
    }

    private final AtomicLong catchUps = new AtomicLong();
    private final AtomicLong stored = new AtomicLong();
    private final AtomicLong live = new AtomicLong();
    private final AtomicLong redo = new AtomicLong();
    private final AtomicLong nextLog = new AtomicLong(System.nanoTime() + LOG_NANOS);
    private volatile Counts logged = new Counts(0, 0, 0, 0);

    /** A read that waited for the page index to catch up. */
    void catchUp() {
        catchUps.incrementAndGet();
    }

    /** Answered from a stored version (or zeros: beyond the fork's end, never written). */
    void stored() {
        stored.incrementAndGet();
        logIfDue();
    }

    /** Answered by live pages (a follower), or by redo when they had none. */
    void liveOrRedo(boolean answeredLive) {
        (answeredLive ? live : redo).incrementAndGet();
        logIfDue();
    }

    /** Answered by a redo run (a read at a fixed LSN: live pages are not asked). */
    void redo() {
        redo.incrementAndGet();
        logIfDue();
    }

    Counts counts() {
        return new Counts(catchUps.get(), stored.get(), live.get(), redo.get());
    }

    private void logIfDue() {
        long due = nextLog.get();
        if (System.nanoTime() - due < 0 || !nextLog.compareAndSet(due, System.nanoTime() + LOG_NANOS)) {
            return;
        }
        Counts now = counts();
        if (!now.equals(logged)) {
            logged = now;
            LOG.info("GetPage outside image windows: " + now.stored() + " from stored versions, " + now.live()
                    + " from a follower, " + now.redo() + " by redo runs; " + now.catchUps()
                    + " waited for the page index to catch up");
        }
    }
}
