package dev.zenith.server.offload;

import dev.zenith.objectstore.transfer.Backoff;
import io.vertx.core.json.JsonObject;

import java.time.Duration;
import java.time.Instant;
import java.util.function.Supplier;
import java.util.logging.Logger;

/**
 * Reaching an s3 storage's prefix after the daemon opened the storage from its local cache without it
 * (S3 unreachable, or the lease of this home's previous daemon not run out yet): one attempt whenever
 * the backoff allows (1 s doubling to 30 s), on the offload's thread. A prefix someone else wrote
 * meanwhile ({@link PrefixTakenException}) is not retried: the caller stops uploading.
 */
final class Reconnect {
    private static final Logger LOG = Logger.getLogger(Reconnect.class.getName());
    static final Backoff BACKOFF = new Backoff(Duration.ofSeconds(1), Duration.ofSeconds(30), 0);

    private final String storage;
    private final Supplier<RemoteHome> open;
    private int failures;
    private long nextNanos;
    private volatile String error;
    private volatile Instant since;
    private volatile Instant nextAttempt;

    Reconnect(String storage, Supplier<RemoteHome> open, String firstError) {
        this.storage = storage;
        this.open = open;
        this.error = firstError;
        this.since = Instant.now();
        failures = 1;
        schedule();
    }

    /** The prefix, when an attempt is due and succeeds; null otherwise. Blocking (the lease settles). */
    RemoteHome attempt() {
        if (System.nanoTime() < nextNanos) {
            return null;
        }
        try {
            return open.get();
        } catch (PrefixTakenException e) {
            throw e;
        } catch (RuntimeException e) {
            String why = e.getMessage() == null ? e.toString() : e.getMessage();
            if (!why.equals(error)) {
                LOG.info("storage '" + storage + "': S3 still cannot be used (" + why + "); trying again");
            }
            error = why;
            failures++;
            schedule();
            return null;
        }
    }

    private void schedule() {
        Duration d = BACKOFF.delayAfter(failures);
        nextNanos = System.nanoTime() + d.toNanos();
        nextAttempt = Instant.now().plus(d);
    }

    /** For storage show while the prefix is not reached. */
    void describeInto(JsonObject json) {
        json.put("error", error).put("error_since", since.toString()).put("connect_attempts", failures)
                .put("next_attempt", nextAttempt.toString());
    }

    Instant since() {
        return since;
    }
}
