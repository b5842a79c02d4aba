package dev.zenith.server.jobs;

import dev.zenith.server.domain.ConflictException;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.ToIntFunction;

/**
 * One long action (a pg create, checkout, start, gc...): its state, its current phase and how far that
 * phase got. Written by the thread doing the work, read by REST handlers: fields are volatile or atomic.
 */
public final class Job implements Progress {
    static final ThreadLocal<Job> CURRENT = new ThreadLocal<>();

    public enum State { RUNNING, SUCCEEDED, FAILED, CANCELLED }

    private final String id;
    private final String action;
    /** The status a failure is reported with (the REST layer's mapping, given by whoever made the registry). */
    private final ToIntFunction<Throwable> statusOf;
    private final Instant startedAt = Instant.now();
    private volatile State state = State.RUNNING;
    private volatile String phase = "queued";
    private volatile long phaseStartedNanos = System.nanoTime();
    private volatile long total;
    private final AtomicLong done = new AtomicLong();
    /** Every phase so far, in order: a client polling now and then still sees the short ones. */
    private final List<String> phases = new CopyOnWriteArrayList<>();
    private volatile Instant finishedAt;
    private volatile Object result;
    private volatile int errorStatus;
    private volatile String error;
    /** Whether the work has begun; a job that has not can be cancelled whatever it is. */
    private boolean started;
    /** Set by the work when it stops cleanly at its {@link #checkCancelled()} points (exports, imports, pushes, pulls). */
    private boolean cancellable;
    private volatile boolean cancelRequested;
    /** Told once when the job next changes ({@link #whenChanged}); each is run once, off this lock. */
    private final List<Runnable> waiters = new ArrayList<>();

    Job(String id, String action, ToIntFunction<Throwable> statusOf) {
        this.id = id;
        this.action = action;
        this.statusOf = statusOf;
    }

    public String id() {
        return id;
    }

    public State state() {
        return state;
    }

    public Object result() {
        return result;
    }

    Instant finishedAt() {
        return finishedAt;
    }

    @Override
    public void phase(String name, long total) {
        this.done.set(0);
        this.total = total;
        this.phaseStartedNanos = System.nanoTime();
        this.phase = name;
        phases.add(name);
        changed();
    }

    @Override
    public void advance(long units) {
        done.addAndGet(units);
    }

    @Override
    public void total(long total) {
        this.total = total;
    }

    void succeeded(Object result) {
        this.result = result;
        this.finishedAt = Instant.now();
        this.state = State.SUCCEEDED;
        changed();
    }

    /**
     * Asks the job to stop: a job that has not begun never runs, a cancellable one stops at its next safe point and
     * ends "cancelled" (a job already past its last one ends as it would have). 409 for an ended or uncancellable job.
     */
    synchronized void requestCancel() {
        if (state != State.RUNNING) {
            throw new ConflictException("job " + id + " (" + action + ") has ended: " + state.name().toLowerCase());
        }
        if (started && !cancellable) {
            throw new ConflictException("job " + id + " (" + action + ") cannot be cancelled; exports, imports, pushes"
                    + " and pulls can");
        }
        cancelRequested = true;
    }

    /** The work begins; false when it was cancelled before (it is then cancelled, and must not run). */
    synchronized boolean begin() {
        if (cancelRequested) {
            cancelled();
            return false;
        }
        started = true;
        return true;
    }

    @Override
    public synchronized void allowCancel() {
        cancellable = true;
    }

    @Override
    public void checkCancelled() {
        if (cancelRequested) {
            throw new JobCancelledException("job " + id + " (" + action + ") was cancelled");
        }
    }

    void cancelled() {
        this.error = "cancelled";
        this.errorStatus = 409;
        this.finishedAt = Instant.now();
        this.state = State.CANCELLED;
        changed();
    }

    void failed(Throwable t) {
        this.errorStatus = statusOf.applyAsInt(t);
        this.error = t.getMessage() == null ? t.toString() : t.getMessage();
        this.finishedAt = Instant.now();
        this.state = State.FAILED;
        changed();
    }

    /** How many phases the job has had so far. */
    public int phaseCount() {
        return phases.size();
    }

    /**
     * Runs {@code then} (on the thread that changes the job, or at once on this one) as soon as the job has ended
     * or has more than {@code seenPhases} phases: a client following it is answered when there is something new
     * instead of asking again and again. {@link #forget} it when it is no longer wanted.
     */
    public void whenChanged(int seenPhases, Runnable then) {
        synchronized (waiters) {
            if (state == State.RUNNING && phases.size() <= seenPhases) {
                waiters.add(then);
                return;
            }
        }
        then.run();
    }

    /** A {@link #whenChanged} callback no longer wanted (its client was answered otherwise). */
    public void forget(Runnable then) {
        synchronized (waiters) {
            waiters.remove(then);
        }
    }

    private void changed() {
        List<Runnable> told;
        synchronized (waiters) {
            told = List.copyOf(waiters);
            waiters.clear();
        }
        told.forEach(Runnable::run);
    }

    /** The job as GET /jobs/ID shows it; rate and ETA are of the current phase. */
    public JsonObject toJson() {
        long d = done.get();
        double seconds = Math.max(1e-3, (System.nanoTime() - phaseStartedNanos) / 1e9);
        long rate = (long) (d / seconds);
        JsonObject j = new JsonObject().put("id", id).put("action", action)
                .put("state", state.name().toLowerCase()).put("phase", phase)
                .put("done_bytes", d).put("total_bytes", total).put("bytes_per_second", rate)
                .put("eta_seconds", total > 0 && rate > 0 && d < total ? (total - d) / rate : null)
                .put("phases", new JsonArray(List.copyOf(phases))).put("started_at", startedAt.toString())
                .put("finished_at", finishedAt == null ? null : finishedAt.toString())
                .put("cancel_requested", cancelRequested)
                .put("elapsed_ms", Duration.between(startedAt, finishedAt == null ? Instant.now() : finishedAt).toMillis());
        if (state == State.SUCCEEDED) {
            j.put("result", result);
        } else if (state == State.FAILED || state == State.CANCELLED) {
            j.put("error", error).put("error_status", errorStatus);
        }
        return j;
    }
}
