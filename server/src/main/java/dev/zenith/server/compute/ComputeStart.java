package dev.zenith.server.compute;

import dev.zenith.pgexec.PgInstallation;
import dev.zenith.pgexec.PrivateFiles;
import dev.zenith.server.config.ZenithConfig;
import dev.zenith.server.domain.ConflictException;
import dev.zenith.server.domain.DomainException;
import dev.zenith.server.domain.InvalidRequestException;
import dev.zenith.server.ingest.WalReceiver;
import dev.zenith.server.jobs.Management;
import dev.zenith.server.jobs.Progress;
import dev.zenith.server.security.PassFile;
import dev.zenith.server.security.Secrets;
import dev.zenith.storage.Store;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.control.ControlFile;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.concurrent.TimeUnit;
import java.util.function.BiFunction;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * A compute's start: the checks (one primary per timeline, its port, a replica follows its leader), the data
 * directory rebuilt from the store or reused, settings, PostgreSQL started and, for a rebuilt one, its replay
 * checked; then its WAL receiver. The slow part runs without the management lock ({@link #launchUnlocked}).
 * Blocking.
 */
final class ComputeStart {
    private static final Logger LOG = Logger.getLogger(ComputeStart.class.getName());

    private final ZenithConfig config;
    private final PgInstallation pg;
    private final PgRegistry registry;
    private final ComputeDirectories directories;
    private final Branches branches;
    private final Management management;
    private final ComputeChannels channels;
    /** How PostgreSQL's tools and standbys reach a pg's timeline on our replication port. */
    private final BiFunction<PgRecord, String, String> connstr;

    ComputeStart(ZenithConfig config, PgInstallation pg, PgRegistry registry, ComputeDirectories directories,
                 Branches branches, Management management, ComputeChannels channels,
                 BiFunction<PgRecord, String, String> connstr) {
        this.config = config;
        this.pg = pg;
        this.registry = registry;
        this.directories = directories;
        this.branches = branches;
        this.management = management;
        this.channels = channels;
        this.connstr = connstr;
    }

    /**
     * Starts a pg. As a primary it owns its timeline (one per timeline) and its WAL flows into the store;
     * as a replica it is a hot standby of its timeline, streaming from our replication port, rebuilt
     * from the store at every start; several may run per timeline. {@code force}: see
     * {@link Branches#forkIfSuperseded}.
     */
    boolean start(Compute c, boolean asReplica, boolean force) throws IOException {
        Compute.Busy was = c.busy; // a long action (checkout, promote) may start it as one of its steps
        if (was == null) {
            c.busy = Compute.Busy.STARTING; // other actions on it are refused meanwhile (409)
        }
        try {
            return startIdle(c, asReplica, force);
        } finally {
            if (was == null) {
                c.busy = null;
            }
        }
    }

    private boolean startIdle(Compute c, boolean asReplica, boolean force) throws IOException {
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
        // A read-only pg at a point of a pulled history: the storage's password, set in its own directory before it opens.
        String readOnlyPassword = c.record.readOnly() && ClusterPasswords.pulledAt(store, tl) ? storagePassword(store) : null;
        boolean reuse = !asReplica && c.record.cleanDirLsn() != null
                && store.wal().end(tl).map(c.record.cleanDirLsn()::equals).orElse(false)
                && Files.exists(c.record.pgdata().resolve("global/pg_control"));
        // From here on the directory is not a clean copy: a crash mid-start means a rebuild next time.
        PgRegistry.save(store, c, c.record.withCleanDirLsn(null).withWantRunning(true).withReplica(asReplica));
        // Where a rebuilt directory's replay must get to.
        Lsn target = reuse ? null : store.wal().lastRecordEnd(tl).orElse(null);
        try {
            passwordless = launchUnlocked(c, store, asReplica, reuse, passwordless, readOnlyPassword, target);
        } catch (IOException | RuntimeException e) {
            PgRegistry.save(store, c, c.record.withWantRunning(false));
            if (target != null && c.process.runningPid().isPresent()) {
                ReplayCheck.stopUnaccepted(c); // it started, but not as the store says it must
            }
            if (e instanceof DomainException refused) {
                LOG.severe(refused.getMessage());
                throw refused;
            }
            if (e instanceof ComputeLifecycle.StartFailed failed) { // says why already
                LOG.severe(failed.getMessage());
                throw failed;
            }
            LOG.log(Level.SEVERE, "pg " + name + " failed to start", e);
            throw new ComputeLifecycle.StartFailed("pg '" + name + "' failed to start: " + e.getMessage(), e);
        }
        c.unkeptPassword = passwordless != null ? passwordless.password() : null;
        registry.nowRunning(c);
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

    /**
     * {@link #launch} without the management lock: building a data directory and PostgreSQL's recovery may take
     * minutes, and unrelated REST changes, the crash watcher and the storages' polls go on meanwhile. The pg
     * stays busy (409 for other actions on it) and counts as its timeline's primary for other starts.
     */
    private NewPassword launchUnlocked(Compute c, Store store, boolean asReplica, boolean reuse, NewPassword passwordless,
                                       String readOnlyPassword, Lsn target) throws IOException {
        c.starting = true;
        try {
            return management.unlocked(() -> launch(c, store, asReplica, reuse, passwordless, readOnlyPassword, target));
        } finally {
            c.starting = false;
        }
    }

    /** The data directory made ready (rebuilt or reused), configured, and PostgreSQL started on it. */
    private NewPassword launch(Compute c, Store store, boolean asReplica, boolean reuse, NewPassword passwordless,
                               String readOnlyPassword, Lsn target) throws IOException {
        String name = c.name();
        TimelineId tl = c.record.timeline();
        Optional<ComputeDirectories.NewTimeline> newTimeline = Optional.empty();
        if (reuse) {
            LOG.info("pg " + name + ": restarting its cleanly stopped data directory as is");
        } else {
            LOG.info("pg " + name + ": building its data directory from the store");
            newTimeline = directories.rebuild(store, tl, c.process, !asReplica && !c.record.readOnly());
            if (c.record.readOnly() && readOnlyPassword == null) {
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
            settings.put("primary_conninfo", connstr.apply(c.record, "password="
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
        SpreadFirstCheckpoint.writeSettings(c.process, settings,
                newTimeline.map(n -> OptionalInt.of(n.tli())).orElse(OptionalInt.empty()));
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
            if (newTimeline.isPresent()) {
                ComputeDirectories.endInArchiveRecovery(c.record.pgdata()); // single-user mode refuses standby mode
            }
            c.process.setPasswordOffline(passwordless.password());
            passwordless = passwordless.at(ControlFile.parse(Files.readAllBytes(
                    c.record.pgdata().resolve("global/pg_control"))).checkPoint());
        }
        if (readOnlyPassword != null && !reuse) {
            // Single-user mode recovers the directory to the pg's point (its WAL ends there) and sets the password; the
            // standby then opens at that state, with nothing to replay. A standby cannot be given a password itself.
            LOG.info("pg " + name + ": giving role postgres the password of storage " + c.record.storageName()
                    + " in its own directory (a read-only pg at a point of a pulled history)");
            c.process.setPasswordOffline(readOnlyPassword);
            directories.makeReadOnly(store, tl, c.process);
            pg.handOver(c.record.pgdata());
        }
        Progress.current().phase("starting PostgreSQL (it replays the WAL since its starting point)");
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
            SpreadFirstCheckpoint.restoreAfterIt(c.process);
            LOG.info("pg " + name + " began PostgreSQL timeline " + newTimeline.get().tli());
        } else if (target != null) {
            ReplayCheck.require(c, target, ReplayCheck.replayed(c, channels.sqlOf(c, store), target));
        }
        return passwordless;
    }

    /** The storage's password, made and kept now when it has none (a storage that only holds pulled histories). */
    private String storagePassword(Store store) throws IOException {
        if (ClusterPasswords.find(store).isPresent()) {
            return ClusterPasswords.find(store).get();
        }
        String password = ClusterPasswords.findOrCreate(store);
        registry.publishPassFile();
        return password;
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
        c.unkeptPassword = null; // the storage's now
        registry.publishPassFile();
    }
}
