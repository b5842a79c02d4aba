package dev.zenith.server.compute;

import dev.zenith.pgexec.PgInstallation;
import dev.zenith.pgexec.PrivateFiles;
import dev.zenith.server.config.ZenithConfig;
import dev.zenith.server.domain.ConflictException;
import dev.zenith.server.domain.DomainException;
import dev.zenith.server.domain.InvalidRequestException;
import dev.zenith.server.jobs.Management;
import dev.zenith.server.jobs.Progress;
import dev.zenith.server.ingest.WalReceiver;
import dev.zenith.server.security.PassFile;
import dev.zenith.server.security.Secrets;
import dev.zenith.storage.Store;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.control.ControlFile;
import io.vertx.core.Future;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Computes' processes: start (data directory rebuilt from the store or reused, settings, PostgreSQL),
 * stop (the receiver drains, the stopped directory becomes an image), destroy, the crash watcher's
 * bookkeeping, and what a running compute has of ours: its WAL receiver and SQL connection. Blocking.
 */
final class ComputeLifecycle {
    private static final Logger LOG = Logger.getLogger(ComputeLifecycle.class.getName());

    private final ZenithConfig config;
    private final PgInstallation pg;
    private final PgRegistry registry;
    private final ComputeDirectories directories;
    private final Branches branches;
    private final Management management;
    private final DestroyIntents destroys;
    private final ComputeChannels channels;
    private final ComputeStart starts;

    ComputeLifecycle(ZenithConfig config, PgInstallation pg, PgRegistry registry,
                     ComputeDirectories directories, Branches branches, Management management, DestroyIntents destroys,
                     ComputeChannels channels) {
        this.config = config;
        this.pg = pg;
        this.registry = registry;
        this.directories = directories;
        this.branches = branches;
        this.management = management;
        this.destroys = destroys;
        this.channels = channels;
        this.starts = new ComputeStart(config, pg, registry, directories, branches, management, channels,
                this::replicationConnstr);
    }

    /** PostgreSQL did not start (the pg stays stopped); the message says why. */
    static final class StartFailed extends IOException {
        StartFailed(String message, Throwable cause) {
            super(message, cause);
        }
    }

    /**
     * Starts a pg. As a primary it owns its timeline (one per timeline) and its WAL flows into the store;
     * as a replica it is a hot standby of its timeline, streaming from our replication port, rebuilt
     * from the store at every start; several may run per timeline. {@code force}: see
     * {@link Branches#forkIfSuperseded}.
     */
    boolean start(Compute c, boolean asReplica, boolean force) throws IOException {
        return starts.start(c, asReplica, force);
    }

    void stop(Compute c) throws IOException {
        if (!c.running) {
            throw new ConflictException("pg '" + c.name() + "' is not running");
        }
        Store store = registry.storeOf(c.record);
        PgRegistry.save(store, c, c.record.withWantRunning(false));
        stopCompute(c, store);
    }

    /** Fast shutdown; the receiver drains the last WAL; the stopped directory becomes the newest image. */
    void stopCompute(Compute c, Store store) throws IOException {
        TimelineId tl = c.record.timeline();
        c.stopping = true;
        try {
            Progress.current().phase("stopping PostgreSQL of pg " + c.name());
            halt(c);
            c.receiver = null;
        } finally {
            c.stopping = false;
        }
        c.lastLsn = store.wal().end(tl).orElse(Lsn.INVALID);
        if (c.record.readOnly()) {
            // Nothing new to keep: it only replayed the store's WAL, and may restart as is.
            PgRegistry.save(store, c, c.record.withCleanDirLsn(c.lastLsn));
            return;
        }
        if (c.record.replica()) {
            return; // a standby's directory is rebuilt from the store at its next start
        }
        try {
            Progress.current().phase("keeping the stopped directory as an image");
            Lsn clean = directories.refreshImage(store, tl, c.process);
            PgRegistry.save(store, c, c.record.withCleanDirLsn(clean));
        } catch (IOException | RuntimeException e) {
            LOG.log(Level.WARNING, "pg " + c.name() + ": could not take an image after stop; the next start"
                    + " rebuilds from the store", e);
        }
    }

    /**
     * Fast shutdown of PostgreSQL, then its receiver drains the last WAL into the store (kept, for its
     * figures). Both only wait (up to minutes for a stuck postmaster): other state changes go on meanwhile.
     */
    private void halt(Compute c) throws IOException {
        management.unlocked(() -> {
            c.process.stop();
            ComputeChannels.closeSql(c);
            WalReceiver rx = c.receiver;
            if (rx != null) {
                await(rx.stop(), 120);
            }
            return null;
        });
        c.running = false;
    }

    /**
     * Destroys a pg: its compute stopped, its record, directory and log deleted. The intent is written
     * first, so a destroy cut short (the daemon killed) is finished at the next start instead of leaving a
     * directory, a log or a running postmaster behind. Returns the pg as it was.
     */
    PgRecord destroy(Compute c) throws IOException {
        String name = c.name();
        Store store = registry.storeOf(c.record);
        registry.refuseIfHoldsStorage(name, c.record.pgdata());
        LOG.info("pg " + name + ": destroying");
        destroys.intend(store, c.record);
        if (c.running) {
            c.stopping = true; // for good: it is not started again
            halt(c);
        }
        store.documents().delete(PgRecord.key(name));
        registry.remove(name);
        for (Compute f : registry.all()) {
            if (name.equals(f.record.replicaOf())) {
                // Its history stays: the replica goes on as a replica of that timeline.
                PgRegistry.save(store, f, f.record.withReplicaOf(null));
                LOG.info("pg " + f.name() + " followed destroyed pg " + name + "; it stays a replica of its timeline");
            }
        }
        registry.rememberPgs(c.record.storageName());
        destroys.finish(store, c.record);
        return c.record;
    }

    /**
     * The crash watcher's bookkeeping for a compute that died (kill -9, OOM): marked stopped, its
     * directory rebuilt from the store at its next start. Nothing when it still runs or is being stopped.
     */
    void noteIfDied(Compute c) throws IOException {
        if (!c.running || c.stopping || c.starting || c.process.runningPid().isPresent()) {
            return;
        }
        LOG.warning("pg " + c.name() + " died; it will be rebuilt from the store at its next start");
        c.running = false;
        ComputeChannels.closeSql(c);
        WalReceiver rx = c.receiver;
        c.receiver = null;
        if (rx != null) {
            await(rx.stop(), 120);
        }
        Store store = registry.storeOf(c.record);
        PgRegistry.save(store, c, c.record.withWantRunning(false).withCleanDirLsn(null));
        c.lastLsn = store.wal().end(c.record.timeline()).orElse(Lsn.INVALID);
    }

    /**
     * At daemon shutdown (on a plain thread): every running compute is stopped cleanly, its WAL drained
     * into the store. Their records keep wantRunning, so the next daemon start says they were running.
     */
    void stopAllBlocking() {
        for (Compute c : registry.all()) {
            if (c.running) {
                try {
                    stopCompute(c, registry.storeOf(c.record));
                } catch (Exception e) {
                    LOG.log(Level.WARNING, "stopping pg " + c.name() + " failed", e);
                }
            }
        }
    }

    /**
     * How PostgreSQL's own tools stream or back up this pg's timeline from our replication port
     * (pg_receivewal -d, pg_basebackup -d, a standby's primary_conninfo); {@code credential} is
     * {@code passfile=...} (the owner's tools) or {@code password=...} (a replica compute's).
     */
    String replicationConnstr(PgRecord r, String credential) {
        // A replica of a pg follows that pg by name, so its stream goes on across the pg's checkouts.
        String which = r.replicaOf() != null ? "zenith.pg=" + r.replicaOf() : "zenith.timeline=" + r.timeline();
        return "host=" + config.pgHost() + " port=" + config.pgPort() + " user=" + config.replicationUser()
                + " " + credential + " options='-c " + which + "'";
    }

    private static <T> T await(Future<T> f, int seconds) throws IOException {
        try {
            return f.toCompletionStage().toCompletableFuture().get(seconds, TimeUnit.SECONDS);
        } catch (Exception e) {
            throw new IOException(e.getMessage(), e);
        }
    }
}
