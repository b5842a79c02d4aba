package dev.zenith.storage.index;

import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.wal.Lsn;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.function.BiConsumer;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The page index caught up for reads past its watermark, gathered. While a compute writes, every latest read asks
 * for the index at the newest stored WAL, which the background index loop reaches only once a second; one catch-up
 * per read, each an LMDB write transaction behind the indexer's lock, capped latest reads near a thousand a second.
 * Here the catch-ups asked while one is made wait for the next, which takes each timeline to the furthest point
 * asked for, so one transaction answers every read gathered meanwhile. They run on {@code worker} (in the daemon a
 * thread of their own, not the redo runs': a read that needs no run never waits behind one). Reads continue on that
 * thread: they are LMDB reads, and anything slow after them (a redo run, a follower's wait) hands itself elsewhere.
 */
public final class IndexCatchUps {
    private static final Logger LOG = Logger.getLogger(IndexCatchUps.class.getName());

    private final BiConsumer<TimelineId, Lsn> catchUp;
    private final Executor worker;
    /** The reads waiting for the next catch-up, per timeline; guarded by {@code this}. */
    private Map<TimelineId, Waiting> waiting = new HashMap<>();
    /** Whether a drain is queued or running on the worker; guarded by {@code this}. */
    private boolean draining;

    private static final class Waiting {
        Lsn upTo;
        final List<CompletableFuture<Void>> reads = new ArrayList<>();
    }

    /** {@code worker}: where catch-ups run and the reads they answer continue (one thread is enough: they queue). */
    public IndexCatchUps(PageIndexer indexer, Executor worker) {
        this(indexer::catchUp, worker);
    }

    /** {@code catchUp}: brings the index on a timeline to a point (blocking). */
    IndexCatchUps(BiConsumer<TimelineId, Lsn> catchUp, Executor worker) {
        this.catchUp = catchUp;
        this.worker = worker;
    }

    /** Completes once the page index answers at {@code lsn} on the timeline (or its stored records ran out). */
    public CompletableFuture<Void> reach(TimelineId timeline, Lsn lsn) {
        CompletableFuture<Void> read = new CompletableFuture<>();
        boolean start;
        synchronized (this) {
            Waiting w = waiting.computeIfAbsent(timeline, t -> new Waiting());
            w.upTo = w.upTo == null ? lsn : Lsn.max(w.upTo, lsn);
            w.reads.add(read);
            start = !draining;
            draining = true;
        }
        if (start) {
            try {
                worker.execute(this::drain);
            } catch (RejectedExecutionException e) {
                failAll(e); // shutting down
            }
        }
        return read;
    }

    private void drain() {
        while (true) {
            Map<TimelineId, Waiting> round;
            synchronized (this) {
                if (waiting.isEmpty()) {
                    draining = false;
                    return;
                }
                round = waiting;
                waiting = new HashMap<>();
            }
            round.forEach(this::catchUp);
        }
    }

    private void catchUp(TimelineId timeline, Waiting w) {
        try {
            catchUp.accept(timeline, w.upTo);
        } catch (RuntimeException | Error e) {
            // every read gathered gets the failure (an Error too: none may wait for ever); the next round runs
            LOG.log(Level.WARNING, "catching the page index up to " + w.upTo + " on " + timeline + " failed", e);
            w.reads.forEach(r -> r.completeExceptionally(e));
            return;
        }
        w.reads.forEach(r -> r.complete(null));
    }

    private void failAll(Exception e) {
        Map<TimelineId, Waiting> left;
        synchronized (this) {
            left = waiting;
            waiting = new HashMap<>();
            draining = false;
        }
        left.values().forEach(w -> w.reads.forEach(r -> r.completeExceptionally(e)));
    }
}
