package dev.zenith.server.compute;

import dev.zenith.server.jobs.Management;
import dev.zenith.server.storages.StorageRegistry;
import io.vertx.core.Vertx;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Predicate;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The daemon's periodic duties towards its pgs: start again the ones that should run, notice the ones that
 * died (the crash watcher), take in storages another process let go of, and collect garbage hourly. Each
 * runs its bookkeeping under the management lock, like every other state change.
 */
final class ComputeWatch {
    private static final Logger LOG = Logger.getLogger(ComputeManager.class.getName());
    /** How often storages held by another process at start are tried again. */
    private static final long RELEASED_STORAGE_POLL_MS = 2000;
    private static final long CRASH_WATCH_MS = 2000;
    private static final long GC_INTERVAL_MS = 3_600_000;

    private final Vertx vertx;
    private final Management management;
    private final StorageRegistry storages;
    private final PgRegistry registry;
    private final ComputeLifecycle lifecycle;
    private final StorageAdoption adoption;
    private final RetentionPolicy retention;
    private final List<Long> timers = new CopyOnWriteArrayList<>();

    ComputeWatch(Vertx vertx, Management management, StorageRegistry storages, PgRegistry registry,
                 ComputeLifecycle lifecycle, StorageAdoption adoption, RetentionPolicy retention) {
        this.vertx = vertx;
        this.management = management;
        this.storages = storages;
        this.registry = registry;
        this.lifecycle = lifecycle;
        this.adoption = adoption;
        this.retention = retention;
    }

    /** Begins the periodic duties (after the daemon's start took its pgs back). */
    void begin() {
        timers.add(vertx.setPeriodic(RELEASED_STORAGE_POLL_MS, id -> {
            if (storages.anyHeldElsewhere()) { // almost always none: then no trip to a management thread
                management.run(() -> {
                    adoption.takeReleasedStorages(this::restartWanted, management::unlocked);
                    return null;
                });
            }
        }));
        timers.add(vertx.setPeriodic(CRASH_WATCH_MS, id -> watchComputes()));
        timers.add(vertx.setPeriodic(GC_INTERVAL_MS, id -> storages.list().forEach(s -> management.run(
                () -> retention.collectGarbage(s.name(), null)))));
    }

    /** No periodic duty starts any more. */
    void end() {
        timers.forEach(vertx::cancelTimer);
    }

    /** Starts the pgs that should run but do not; one that cannot start is marked stopped (blocking). */
    void restartWanted(Predicate<Compute> which) {
        for (Compute c : List.copyOf(registry.all())) {
            if (which.test(c) && c.record.wantRunning() && !c.running && c.busy == null) {
                try {
                    LOG.info("pg " + c.name() + " was running before; starting it again");
                    lifecycle.start(c, c.record.replica(), false);
                } catch (Exception e) {
                    LOG.log(Level.WARNING, "pg " + c.name() + " could not be started again", e);
                    PgRegistry.save(registry.storeOf(c.record), c, c.record.withWantRunning(false));
                }
            }
        }
    }

    /**
     * Notices computes that died (kill -9, OOM): they are marked stopped and rebuilt at their next start.
     * The bookkeeping runs under the management lock, like every other state change.
     */
    private void watchComputes() {
        for (Compute c : registry.all()) {
            if (!c.running || c.stopping || c.starting) {
                continue;
            }
            management.run(() -> {
                lifecycle.noteIfDied(c);
                return null;
            });
        }
    }
}
