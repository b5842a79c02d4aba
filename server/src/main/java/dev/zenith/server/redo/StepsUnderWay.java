package dev.zenith.server.redo;

import dev.zenith.storage.Store;
import dev.zenith.storage.timeline.Lineage;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.wal.Lsn;

import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.logging.Logger;

/**
 * The background materialization step under way per timeline, and what the finished ones cost, so a data directory's
 * start can wait for a step that will be done sooner than the replay it saves (a branch of a snapshot taken right
 * after its own checkpoint, docs/page-versions.md "Snapshots of a running primary").
 *
 * <p>How it decides: a step toward anchor B (redo point R_B) runs while the start would take the materialized anchor A
 * (R_A before R_B). Starting from A, PostgreSQL replays R_B - R_A bytes more than from B; at the replay rate of the
 * store's last step (PostgreSQL's own replay time per WAL byte in that step's run: the machine's load as it is now; 33
 * ns a byte quiet, 117-197 under load) that is what waiting saves, or at {@link #REPLAY_NANOS_PER_BYTE} before a step
 * of at least {@link #REPLAY_MEASURED_FROM_BYTES} replayed. The step's remaining time is the store's last finished step's
 * time per byte of WAL (start to commit: the run, its pages stored) times this step's bytes, less what it has run. The
 * start waits when that is below the replay saved, and never longer than the replay saved: a step that overruns its
 * estimate costs the start at most twice that replay. With no finished step measured yet (the daemon's first), it does
 * not wait. Waiting never changes a page: the start then chooses among committed steps as always
 * ({@code AnchoredStart}), whose versions are exactly their anchors'.
 */
public final class StepsUnderWay implements StepListener {
    private static final Logger LOG = Logger.getLogger(StepsUnderWay.class.getName());
    /**
     * PostgreSQL's crash recovery of a branch's directory, per byte of WAL: 9.4 MB in 0.275-0.311 s at scale 50
     * (bench/branch-first-query.sh, quiet), about 33 ns a byte.
     */
    static final double REPLAY_NANOS_PER_BYTE = 33;
    /** A step's replay measures the rate when it replayed at least this much (less is mostly PostgreSQL's start). */
    static final long REPLAY_MEASURED_FROM_BYTES = 1 << 20;

    private record Running(Lsn from, Lsn to, long startedNanos) {
    }

    /** Whether a start waited for a step (then it chooses its anchor again), and what it did, for its log. */
    public record Decision(boolean waited, String what) {
    }

    /** By {@link #key}; guarded by this. */
    private final Map<String, Running> running = new HashMap<>();
    /** By store directory: the last finished step's nanoseconds per byte of WAL; guarded by this. */
    private final Map<String, Double> nanosPerByte = new HashMap<>();
    /** By store directory: PostgreSQL's replay nanoseconds per byte of WAL in the last step measured; guarded by this. */
    private final Map<String, Double> replayNanosPerByte = new HashMap<>();

    private static String key(Store store, TimelineId timeline) {
        return store.directory() + "|" + timeline;
    }

    @Override
    public synchronized void stepStarting(Store store, TimelineId timeline, Lsn from, Lsn to) {
        running.put(key(store, timeline), new Running(from, to, System.nanoTime()));
    }

    @Override
    public synchronized void stepCommitted(Store store, TimelineId timeline) {
        Running r = running.remove(key(store, timeline));
        if (r != null && r.to().isAfter(r.from())) {
            nanosPerByte.put(store.directory().toString(), (double) (System.nanoTime() - r.startedNanos()) / r.to().minus(r.from()));
        }
        notifyAll();
    }

    @Override
    public synchronized void stepReplayed(Store store, TimelineId timeline, long walBytes, Duration replay) {
        if (walBytes >= REPLAY_MEASURED_FROM_BYTES && !replay.isZero()) {
            replayNanosPerByte.put(store.directory().toString(), (double) replay.toNanos() / walBytes);
        }
    }

    /** The step under way on the timeline failed or was given up: nothing to wait for. */
    synchronized void stepEnded(Store store, TimelineId timeline) {
        running.remove(key(store, timeline));
        notifyAll();
    }

    /**
     * For a start at {@code end} of {@code timeline} that would replay from {@code redo} (the newest materialized
     * anchor's redo point, or the image's): waits for a step under way on its lineage whose anchor lies at or below
     * the lineage's reach and after {@code redo}, when that is cheaper (see the class comment). Returns what it did,
     * for the start's log line; empty when there was nothing worth waiting for. Blocking.
     */
    public Optional<Decision> awaitIfCheaper(Store store, TimelineId timeline, Lsn end, Lsn redo) throws InterruptedException {
        for (Lineage.Step step : store.timelines().lineage(timeline, end).steps()) {
            Running r;
            Double rate;
            double replayRate;
            synchronized (this) {
                r = running.get(key(store, step.timeline()));
                rate = nanosPerByte.get(store.directory().toString());
                replayRate = replayNanosPerByte.getOrDefault(store.directory().toString(), REPLAY_NANOS_PER_BYTE);
            }
            if (r == null || !r.to().isAfter(redo) || !usable(store, step, r.to())) {
                continue;
            }
            long saved = (long) (replayRate * r.to().minus(redo));
            if (rate == null) {
                return Optional.of(new Decision(false, "did not wait for the step to " + r.to() + " under way on timeline "
                        + step.timeline() + ": no step's time measured yet"));
            }
            long remaining = (long) (rate * r.to().minus(r.from())) - (System.nanoTime() - r.startedNanos());
            if (remaining > saved) {
                return Optional.of(new Decision(false, "did not wait for the step to " + r.to() + " under way on timeline "
                        + step.timeline() + ": ~" + millis(remaining) + " ms left, more than the " + millis(saved)
                        + " ms of replay it saves (" + Math.round(replayRate) + " ns a byte)"));
            }
            long began = System.nanoTime();
            boolean done = awaitEnd(store, step.timeline(), r, saved);
            return Optional.of(new Decision(true, (done ? "waited " : "gave up after ") + millis(System.nanoTime() - began)
                    + " ms for the step to " + r.to() + " on timeline " + step.timeline() + " (estimated ~"
                    + millis(Math.max(0, remaining)) + " ms, saving ~" + millis(saved) + " ms of replay at "
                    + Math.round(replayRate) + " ns a byte)"));
        }
        return Optional.empty();
    }

    /** Its anchor's checkpoint record lies in the lineage step's WAL (a start replays from there). */
    private static boolean usable(Store store, Lineage.Step step, Lsn redo) {
        return store.anchors().pointsOf(step.timeline()).stream()
                .anyMatch(a -> a.redoLsn().equals(redo) && !a.recordEnd().isAfter(step.upTo()));
    }

    private synchronized boolean awaitEnd(Store store, TimelineId timeline, Running r, long maxNanos)
            throws InterruptedException {
        long deadline = System.nanoTime() + maxNanos;
        while (running.get(key(store, timeline)) == r) {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                LOG.info("a start stopped waiting for the step to " + r.to() + " of timeline " + timeline);
                return false;
            }
            TimeUnit.NANOSECONDS.timedWait(this, left);
        }
        return true;
    }

    private static long millis(long nanos) {
        return TimeUnit.NANOSECONDS.toMillis(nanos);
    }
}
