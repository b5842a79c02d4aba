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
        String name = c.name();
        if (c.running) {
            throw new ConflictException("pg '" + name + "' is already running");
        }
        if (c.record.replicaOf() != null) {
            followLeader(c, asReplica);
        }
        boolean forked = false;
        if (!asReplica && !c.record.readOnly()) {
            forked = branches.forkIfSuperseded(c, force);
        }
        if (asReplica && c.record.readOnly()) {
            throw new InvalidRequestException("pg '" + name + "' is read-only; it cannot be a replica");
        }
        if (!asReplica && !c.record.readOnly()) {
            registry.promotingOn(c.record, c).ifPresent(other -> {
                throw new ConflictException("pg '" + other.name() + "' is being promoted from the history pg '" + name
                        + "' is on; start '" + name + "' once that is done");
            });
            registry.primaryOf(c.record, c).ifPresent(other -> {
                throw new ConflictException("pg '" + other.name() + "' is already running as the primary of the"
                        + " history pg '" + name + "' is on; stop it first (pg stop " + other.name()
                        + "), or start '" + name + "' as a replica (--replica)");
            });
        }
        if (!ComputePorts.bindable(c.record.port())) {
            // Its port is part of its connstr, so it is not moved; PostgreSQL would only fail later, less clearly.
            throw new ConflictException("port " + c.record.port() + " of pg '" + name + "' is in use by another program;"
                    + " free it and start the pg again");
        }
        Store store = registry.storeOf(c.record);
        registry.refuseIfHoldsStorage(name, c.record.pgdata()); // a rebuild deletes the directory
        TimelineId tl = c.record.timeline();
        // A storage made before computes had passwords, or a branch of a pulled history (the pushing daemon's password):
        // its first primary start gives role postgres the storage's password (made now when there is none).
        NewPassword passwordless = !asReplica && !c.record.readOnly() && ClusterPasswords.needsSetting(store, tl)
                ? new NewPassword(ClusterPasswords.find(store).orElseGet(Secrets::generate), null) : null;
        boolean reuse = !asReplica && c.record.cleanDirLsn() != null
                && store.wal().end(tl).map(c.record.cleanDirLsn()::equals).orElse(false)
                && Files.exists(c.record.pgdata().resolve("global/pg_control"));
        // From here on the directory is not a clean copy: a crash mid-start means a rebuild next time.
        PgRegistry.save(store, c, c.record.withCleanDirLsn(null).withWantRunning(true).withReplica(asReplica));
        // Where a rebuilt directory's replay must get to.
        Lsn target = reuse ? null : store.wal().lastRecordEnd(tl).orElse(null);
        try {
            passwordless = launch(c, store, asReplica, reuse, passwordless, target);
        } catch (IOException | RuntimeException e) {
            PgRegistry.save(store, c, c.record.withWantRunning(false));
            if (target != null && c.process.runningPid().isPresent()) {
                ReplayCheck.stopUnaccepted(c); // it started, but not as the store says it must
            }
            if (e instanceof DomainException refused) {
                LOG.severe(refused.getMessage());
                throw refused;
            }
            if (e instanceof StartFailed failed) { // says why already
                LOG.severe(failed.getMessage());
                throw failed;
            }
            LOG.log(Level.SEVERE, "pg " + name + " failed to start", e);
            throw new StartFailed("pg '" + name + "' failed to start: " + e.getMessage(), e);
        }
        c.running = true;
        if (c.isPrimary()) {
            channels.startReceiver(c, store, passwordless != null ? passwordless.password() : ClusterPasswords.find(store).orElse(null));
        }
        if (passwordless != null) {
            keepPassword(c, store, passwordless);
        }
        LOG.info("pg " + name + " running on port " + c.record.port());
        return forked;
    }

    /**
     * A replica of a pg starts on that pg's present history, wherever checkouts took it meanwhile; started
     * as a primary it would write a history of its own under the other pg's name, so that is refused.
     */
    private void followLeader(Compute c, boolean asReplica) {
        String leaderName = c.record.replicaOf();
        if (!asReplica) {
            throw new ConflictException("pg '" + c.name() + "' is a replica of pg '" + leaderName + "'; it starts"
                    + " as one (pg start " + c.name() + "). To make it a primary, promote it while it runs"
                    + " (pg promote " + c.name() + ") once '" + leaderName + "' has stopped");
        }
        registry.find(leaderName).filter(leader -> !leader.record.sameTimelineAs(c.record)).ifPresent(leader ->
                PgRegistry.save(registry.storeOf(c.record), c, c.record.onTimeline(leader.record.timeline(), null)));
    }

    /** The data directory made ready (rebuilt or reused), configured, and PostgreSQL started on it. */
    private NewPassword launch(Compute c, Store store, boolean asReplica, boolean reuse, NewPassword passwordless,
                               Lsn target) throws IOException {
        String name = c.name();
        TimelineId tl = c.record.timeline();
        Optional<ComputeDirectories.NewTimeline> newTimeline = Optional.empty();
        if (reuse) {
            LOG.info("pg " + name + ": restarting its cleanly stopped data directory as is");
        } else {
            LOG.info("pg " + name + ": building its data directory from the store");
            newTimeline = directories.rebuild(store, tl, c.process, !asReplica && !c.record.readOnly());
            if (c.record.readOnly()) {
                directories.makeReadOnly(store, tl, c.process);
            } else if (asReplica) {
                directories.makeStandby(c.process);
            }
        }
        c.process.ensureIncludesZenithConf();
        Map<String, String> settings = PostgresSettings.of(c.record.name(), c.record.port(), config.computeSettings());
        if (asReplica) {
            // The compute's own user cannot read the owner's password file: the password itself, in
            // zenith.conf of its 0700 data directory (base backups leave that file out).
            settings.put("primary_conninfo", replicationConnstr(c.record, "password="
                    + PassFile.conninfoValue(config.replicationPassword())) + " application_name=" + name);
        }
        if (c.record.readOnly() || asReplica) {
            PostgresSettings.raiseToMinimums(settings, ComputeDirectories.hotStandbyMinimums(c.process));
        }
        Map<String, String> pinned = PostgresSettings.pinned(settings);
        newTimeline.ifPresent(n -> {
            settings.putAll(n.settings());
            pinned.putAll(n.settings()); // over anything ALTER SYSTEM left in postgresql.auto.conf
        });
        c.process.writeSettings(settings);
        c.process.writeAccessRules();
        pg.handOver(c.record.pgdata());
        if (!Files.exists(c.record.logfile())) {
            Files.createFile(c.record.logfile(), PosixFilePermissions.asFileAttribute(PrivateFiles.FILE));
        }
        PrivateFiles.restrict(c.record.logfile());
        pg.handOver(c.record.logfile());
        if (passwordless != null) {
            LOG.info("pg " + name + ": giving role postgres the password of storage " + c.record.storageName()
                    + " (made before computes had passwords, or a pulled history)");
            c.process.setPasswordOffline(passwordless.password());
            passwordless = passwordless.at(ControlFile.parse(Files.readAllBytes(
                    c.record.pgdata().resolve("global/pg_control"))).checkPoint());
        }
        Progress.current().phase("starting PostgreSQL (it replays the WAL since the image)");
        c.process.start(pinned);
        if (newTimeline.isPresent()) {
            Progress.current().phase("waiting for PostgreSQL to end recovery on its new timeline "
                    + newTimeline.get().tli());
            try {
                directories.awaitNewTimeline(c.process, newTimeline.get());
                if (target != null) { // before the history check, which a short replay fails less clearly
                    ReplayCheck.require(c, target, ComputeDirectories.newTimelineSwitchPoint(c.process, newTimeline.get()));
                }
                directories.finishNewTimeline(store, tl, c.process, newTimeline.get());
            } catch (IOException | RuntimeException e) {
                c.process.stop(); // it may have written WAL the store does not take: rebuilt next time
                throw e;
            }
            LOG.info("pg " + name + " began PostgreSQL timeline " + newTimeline.get().tli());
        } else if (target != null) {
            ReplayCheck.require(c, target, ReplayCheck.replayed(c, channels.sqlOf(c, store), target));
        }
        return passwordless;
    }

    /** A password set in a cluster that had none, and the LSN of the shutdown checkpoint that follows it. */
    private record NewPassword(String password, Lsn setBefore) {
        NewPassword at(Lsn lsn) {
            return new NewPassword(password, lsn);
        }
    }

    /**
     * The new password is the storage's once the WAL that sets it is durable in the store; until then a
     * crash would rebuild the compute without it, and its next start gives it one again.
     */
    private void keepPassword(Compute c, Store store, NewPassword p) throws IOException {
        long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(2);
        WalReceiver rx = c.receiver;
        while (rx != null && !rx.flushed().isAfter(p.setBefore()) && System.nanoTime() < deadline) {
            PostgresProcess.sleep(20);
        }
        if (rx == null || !rx.flushed().isAfter(p.setBefore())) {
            LOG.warning("pg " + c.name() + ": its new password did not reach the store; it gets another at its next start");
            return;
        }
        ClusterPasswords.keep(store, p.password());
        ClusterPasswords.setOn(store, c.record.timeline(), p.setBefore());
        registry.publishPassFile();
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
        if (!c.running || c.stopping || c.process.runningPid().isPresent()) {
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
