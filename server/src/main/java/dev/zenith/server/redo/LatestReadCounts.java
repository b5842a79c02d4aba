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
    record Counts(long catchUps, long stored, long live, long redo, long runs, long runMillis, long buildMillis,
                  long walWriteMillis, long walCheckMillis, long filesMillis, long seedMillis, long forksMillis,
                  long handOverMillis, long recoveryMillis, long replayMillis, long checkpointMillis,
                  long runBlocks,
                  long runWalBytes, long storeMillis, long decodeMillis, long runWaitMillis) {
    }

    private final AtomicLong catchUps = new AtomicLong();
    private final AtomicLong stored = new AtomicLong();
    private final AtomicLong live = new AtomicLong();
    private final AtomicLong redo = new AtomicLong();
    private final AtomicLong runs = new AtomicLong();
    private final AtomicLong runNanos = new AtomicLong();
    private final AtomicLong buildNanos = new AtomicLong();
    private final AtomicLong walWriteNanos = new AtomicLong();
    private final AtomicLong walCheckNanos = new AtomicLong();
    private final AtomicLong filesNanos = new AtomicLong();
    private final AtomicLong seedNanos = new AtomicLong();
    private final AtomicLong forksNanos = new AtomicLong();
    private final AtomicLong handOverNanos = new AtomicLong();
    private final AtomicLong recoveryNanos = new AtomicLong();
    private final AtomicLong replayNanos = new AtomicLong();
    private final AtomicLong checkpointNanos = new AtomicLong();
    private final AtomicLong runBlocks = new AtomicLong();
    private final AtomicLong runWalBytes = new AtomicLong();
    private final AtomicLong storeNanos = new AtomicLong();
    private final AtomicLong decodeNanos = new AtomicLong();
    private final AtomicLong runWaitNanos = new AtomicLong();
    private final AtomicLong nextLog = new AtomicLong(System.nanoTime() + LOG_NANOS);
    private volatile Counts logged = new Counts(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);

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

    /**
     * A GetPage redo run ended: how long it took (waiting for its slot not counted) and in which part (its scratch
     * directory and WAL, of which writing and checking the WAL; PostgreSQL's start, recovery and end-of-recovery
     * checkpoint, of which replay and checkpoint as its log says; the rest is reading back: the postmaster's exit is not waited for), the blocks it made, the WAL
     * it replayed. Under writes these runs are what the reads waiting for them wait for.
     */
    void ran(RedoReport report) {
        runs.incrementAndGet();
        RedoReport.Preparation preparation = report.preparation();
        buildNanos.addAndGet(preparation.total().toNanos());
        walWriteNanos.addAndGet(preparation.walWrite().toNanos());
        walCheckNanos.addAndGet(preparation.walCheck().toNanos());
        filesNanos.addAndGet(preparation.files().toNanos());
        seedNanos.addAndGet(preparation.seed().toNanos());
        forksNanos.addAndGet(preparation.forks().toNanos());
        handOverNanos.addAndGet(preparation.handOver().toNanos());
        recoveryNanos.addAndGet(report.recovery().total().toNanos());
        replayNanos.addAndGet(report.recovery().replay().toNanos());
        checkpointNanos.addAndGet(report.recovery().checkpoint().toNanos());
        runNanos.addAndGet(preparation.total().plus(report.recovery().total()).plus(report.readBack()).toNanos());
        runBlocks.addAndGet(report.wanted());
        runWalBytes.addAndGet(report.walBytes());
    }

    /** A run's pages were stored (after they were answered), in {@code nanos}. */
    void runStored(long nanos) {
        storeNanos.addAndGet(nanos);
    }

    /** A read spent {@code nanos} bringing the decoded WAL to its LSN (decoding, or waiting for another read that did). */
    void decoded(long nanos) {
        decodeNanos.addAndGet(nanos);
    }

    /** A read answered by redo waited {@code nanos} for its run (gathering, a slot, the run). */
    void waitedForRun(long nanos) {
        runWaitNanos.addAndGet(nanos);
    }

    Counts counts() {
        return new Counts(catchUps.get(), stored.get(), live.get(), redo.get(), runs.get(),
                TimeUnit.NANOSECONDS.toMillis(runNanos.get()), TimeUnit.NANOSECONDS.toMillis(buildNanos.get()),
                millis(walWriteNanos), millis(walCheckNanos), millis(filesNanos), millis(seedNanos), millis(forksNanos),
                millis(handOverNanos), millis(recoveryNanos), millis(replayNanos), millis(checkpointNanos),
                runBlocks.get(), runWalBytes.get(),
                TimeUnit.NANOSECONDS.toMillis(storeNanos.get()), TimeUnit.NANOSECONDS.toMillis(decodeNanos.get()),
                TimeUnit.NANOSECONDS.toMillis(runWaitNanos.get()));
    }

    private static long millis(AtomicLong nanos) {
        return TimeUnit.NANOSECONDS.toMillis(nanos.get());
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
                    + " from a follower, " + now.redo() + " by redo runs (waited for " + now.runWaitMillis()
                    + " ms in all); " + now.catchUps() + " waited for the page index to catch up; " + now.runs()
                    + " runs for them took " + now.runMillis() + " ms (" + now.buildMillis() + " writing their directories"
                    + " and WAL, of which " + now.walWriteMillis() + " writing and " + now.walCheckMillis() + " checking"
                    + " the WAL, " + now.filesMillis() + " the other files, " + now.seedMillis() + " seeding pages, "
                    + now.forksMillis() + " free-space maps and sentinels, " + now.handOverMillis() + " handing the tree to"
                    + " PostgreSQL's user; " + now.recoveryMillis() + " in PostgreSQL's start, recovery and end-of-recovery"
                    + " checkpoint, of which " + now.replayMillis() + " replaying and " + now.checkpointMillis()
                    + " in the checkpoint; " + now.runBlocks()
                    + " blocks made, "
                    + (now.runWalBytes() >> 20) + " MiB of WAL replayed), their pages stored in " + now.storeMillis()
                    + " ms; reads waited " + now.decodeMillis() + " ms in all for the WAL to be decoded");
        }
    }
}
