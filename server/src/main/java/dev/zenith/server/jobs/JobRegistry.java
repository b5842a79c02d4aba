package dev.zenith.server.jobs;

import dev.zenith.server.domain.ConflictException;
import dev.zenith.server.domain.InvalidRequestException;
import dev.zenith.server.domain.NotFoundException;
import io.vertx.core.json.JsonArray;

import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.ToIntFunction;

/**
 * The daemon's long actions, running and recently finished, by id. A job wraps the work it is given:
 * while the work runs on whatever thread runs it, {@link Progress#current()} there is the job. Finished
 * jobs are kept for a while so a client polling them sees the outcome.
 */
public final class JobRegistry {
    private static final Duration KEEP_FINISHED = Duration.ofMinutes(10);
    private static final int MAX_FINISHED = 200;

    private final AtomicLong nextId = new AtomicLong(1);
    private final Map<String, Job> jobs = new LinkedHashMap<>();
    private final ToIntFunction<Throwable> statusOf;

    /** {@code statusOf}: the status a failed job reports for its failure. */
    public JobRegistry(ToIntFunction<Throwable> statusOf) {
        this.statusOf = statusOf;
    }

    /** A new running job for {@code action} (e.g. "pg checkout main"). */
    public synchronized Job create(String action) {
        prune();
        Job job = new Job(Long.toString(nextId.getAndIncrement()), action, statusOf);
        jobs.put(job.id(), job);
        return job;
    }

    public synchronized Job get(String id) {
        Job job = jobs.get(id);
        if (job == null) {
            throw new NotFoundException("job '" + id + "' not found (finished jobs are kept " + KEEP_FINISHED.toMinutes()
                    + " minutes)");
        }
        return job;
    }

    /** {@code POST /jobs/ID/actions {"action":"cancel"}}: see {@link Job#requestCancel()}; the job as it is now. */
    public io.vertx.core.json.JsonObject act(String id, String action) {
        Job job = get(id);
        if (!"cancel".equals(action)) {
            throw new InvalidRequestException("unknown action '" + action + "' for a job; expected cancel");
        }
        job.requestCancel();
        return job.toJson();
    }

    public synchronized JsonArray list() {
        JsonArray a = new JsonArray();
        jobs.values().forEach(j -> a.add(j.toJson()));
        return a;
    }

    /**
     * A step of the current thread's job that runs on another thread (a job off the management lock that
     * takes it for a step): the step's progress reports land in the same job; its outcome is the caller's.
     */
    public static <T> Callable<T> continuingCurrent(Callable<T> step) {
        Job job = Job.CURRENT.get();
        if (job == null) {
            return step;
        }
        return () -> {
            Job.CURRENT.set(job);
            try {
                return step.call();
            } finally {
                Job.CURRENT.remove();
            }
        };
    }

    /** The work, run as {@code job}: its progress reports and its outcome land in the job. */
    public static <T> Callable<T> runAs(Job job, Callable<T> work) {
        return () -> {
            if (!job.begin()) {
                throw new ConflictException("job " + job.id() + " was cancelled before it began");
            }
            Job.CURRENT.set(job);
            try {
                T result = work.call();
                job.succeeded(result);
                return result;
            } catch (JobCancelledException t) {
                job.cancelled();
                throw new ConflictException(t.getMessage());
            } catch (Throwable t) {
                job.failed(t);
                throw t;
            } finally {
                Job.CURRENT.remove();
            }
        };
    }

    private void prune() {
        Instant cutoff = Instant.now().minus(KEEP_FINISHED);
        long finished = jobs.values().stream().filter(j -> j.finishedAt() != null).count();
        var it = jobs.values().iterator();
        while (it.hasNext()) {
            Job j = it.next();
            if (j.finishedAt() != null && (j.finishedAt().isBefore(cutoff) || finished > MAX_FINISHED)) {
                it.remove();
                finished--;
            }
        }
    }
}
