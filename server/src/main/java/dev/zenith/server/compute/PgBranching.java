package dev.zenith.server.compute;

import dev.zenith.server.domain.ConflictException;
import dev.zenith.server.domain.DomainException;
import dev.zenith.server.domain.InvalidRequestException;
import dev.zenith.server.domain.UnavailableException;
import dev.zenith.server.history.HistoryPoint;
import dev.zenith.server.history.HistoryPoints;
import dev.zenith.server.history.SnapshotCatalog;
import dev.zenith.pgexec.PgInstallation;
import dev.zenith.server.jobs.Management;
import dev.zenith.server.jobs.Progress;
import dev.zenith.server.ingest.WalReceiver;
import dev.zenith.server.storages.StorageRegistry;
import dev.zenith.storage.Store;
import dev.zenith.storage.timeline.PgTimelines;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.wal.Lsn;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.logging.Logger;

/**
 * Pgs and their histories: a new pg on its storage's main timeline or on a branch (snapshot, LSN, time),
 * a pg checked out elsewhere in its history, and a replica promoted to a primary of a new timeline.
 * Blocking; management lock.
 */
final class PgBranching {
    private static final Logger LOG = Logger.getLogger(PgBranching.class.getName());

    private final PgRegistry registry;
    private final StorageRegistry storages;
    private final SnapshotCatalog snapshots;
    private final ComputeDirectories directories;
    private final Branches branches;
    private final ComputeLifecycle lifecycle;
    private final PgInstallation pg;
    private final Management management;
    private final ComputeChannels channels;

    PgBranching(PgRegistry registry, StorageRegistry storages, SnapshotCatalog snapshots, ComputeDirectories directories,
                Branches branches, ComputeLifecycle lifecycle, PgInstallation pg, Management management,
                ComputeChannels channels) {
        this.registry = registry;
        this.storages = storages;
        this.snapshots = snapshots;
        this.directories = directories;
        this.branches = branches;
        this.lifecycle = lifecycle;
        this.pg = pg;
        this.management = management;
        this.channels = channels;
    }

    /** A pg made, and the point its timeline branched at (null on the main timeline). */
    record Created(Compute compute, HistoryPoint branch) {
    }

    Created create(ComputeManager.CreateRequest req) throws IOException {
        String name = req.name();
        if (registry.exists(name)) {
            throw new ConflictException("pg '" + name + "' already exists");
        }
        registry.refuseIfOnUnavailableStorage(name); // its name stays taken
        if (req.snapshot() != null && req.fromPg() != null) {
            throw new InvalidRequestException("give a snapshot or a pg to branch from, not both");
        }
        if ((req.lsn() != null || req.time() != null) && req.fromPg() == null) {
            throw new InvalidRequestException("an LSN or a time needs the pg to branch from ('from')");
        }
        if (req.readOnly() && !req.branches() && req.replicaOf() == null) {
            throw new InvalidRequestException("a read-only pg needs a point: a snapshot, or a pg with an LSN or time");
        }
        Compute leader = req.replicaOf() == null ? null : leaderFor(req);
        Path pgdata = registry.computesDir().resolve(name);
        Path logfile = registry.computesDir().resolve(name + ".log");
        PostgresProcess process = new PostgresProcess(pg, pgdata, logfile);
        String storageName;
        TimelineId timeline;
        Lsn cleanDirLsn = null;
        String source = null;
        HistoryPoint branchPoint = null;
        if (leader != null) {
            storageName = leader.record.storageName();
            timeline = leader.record.timeline();
        } else if (req.branches()) {
            Branches.Branch b = branches.branch(req.snapshot(), req.fromPg(), req.lsn(), req.time(), !req.readOnly());
            if (req.storageName() != null && !req.storageName().equals(b.storageName())) {
                throw new InvalidRequestException("the branch point is on storage '" + b.storageName() + "', not '"
                        + req.storageName() + "'");
            }
            storageName = b.storageName();
            timeline = b.timeline();
            source = b.source();
            branchPoint = b.point();
        } else {
            storageName = req.storageName() == null ? StorageRegistry.DEFAULT_STORAGE : req.storageName();
            Store store = storages.get(storageName).store();
            var main = ComputeDirectories.mainTimeline(store);
            if (main.isPresent()) {
                timeline = main.get();
            } else {
                registry.deleteComputeDirectory(name, pgdata);
                LOG.info("storage " + storageName + " is empty: running initdb for pg " + name);
                Progress.current().phase("running initdb (the storage is empty)");
                timeline = directories.bootstrap(store, process);
                cleanDirLsn = store.wal().end(timeline).orElseThrow();
            }
        }
        Store store = storages.get(storageName).store();
        if (cleanDirLsn == null) {
            // Leftover of a destroyed pg or a crashed create: never trusted, always rebuilt.
            registry.deleteComputeDirectory(name, pgdata);
        }
        PgRecord record = new PgRecord(name, storageName, timeline, registry.allocatePort(), pgdata, logfile,
                Instant.now(), false, cleanDirLsn, req.readOnly() ? PgRecord.Role.READ_ONLY
                : leader != null ? PgRecord.Role.REPLICA : PgRecord.Role.PRIMARY, source,
                leader == null ? null : leader.name());
        Compute c = new Compute(record, process);
        c.lastLsn = store.wal().end(timeline).orElse(Lsn.INVALID);
        PgRegistry.save(store, c, record);
        registry.add(c);
        registry.rememberPgs(storageName);
        LOG.info("pg " + name + " created on storage " + storageName + ", timeline " + timeline
                + (source == null ? "" : ", branched from " + source)
                + (leader == null ? "" : ", a replica of pg " + leader.name()));
        if (req.start()) {
            try {
                lifecycle.start(c, c.record.replica(), false);
            } catch (DomainException e) {
                // The pg exists (a start can be retried once the cause is fixed); say so, not only that the start failed.
                throw e.reworded(createdBut(name, e));
            } catch (ComputeLifecycle.StartFailed e) {
                throw new ComputeLifecycle.StartFailed(createdBut(name, e), e.getCause());
            }
        }
        return new Created(c, branchPoint);
    }

    /**
     * The pg a new replica is to follow ({@code replica_of}): a primary of the same storage. A replica
     * follows its present, so no point may be given, and a replica or read-only node has no history of its
     * own to follow.
     */
    private Compute leaderFor(ComputeManager.CreateRequest req) {
        if (req.branches() || req.lsn() != null || req.time() != null || req.readOnly()) {
            throw new InvalidRequestException("a replica follows its pg's present history: give 'replica_of' alone, without"
                    + " 'snapshot', 'from', 'lsn', 'time' or 'read_only'");
        }
        Compute leader = registry.require(req.replicaOf());
        PgRecord r = leader.record;
        if (r.replicaOf() != null) {
            throw new InvalidRequestException("pg '" + r.name() + "' is itself a replica of pg '" + r.replicaOf()
                    + "'; make a replica of '" + r.replicaOf() + "'");
        }
        if (r.readOnly() || r.replica()) {
            throw new InvalidRequestException("pg '" + r.name() + "' is " + (r.readOnly() ? "a read-only node" : "a replica")
                    + "; a replica follows a primary's history");
        }
        if (req.storageName() != null && !req.storageName().equals(r.storageName())) {
            throw new InvalidRequestException("pg '" + r.name() + "' is on storage '" + r.storageName() + "', not '"
                    + req.storageName() + "'");
        }
        return leader;
    }

    private static String createdBut(String name, Exception e) {
        return "pg '" + name + "' was created (stopped), but: " + e.getMessage();
    }

    /** A pg checked out: the snapshot keeping the state it left, the point it moved to, what its replicas did. */
    record CheckedOut(Compute compute, String savedAs, HistoryPoint branch, List<ComputeManager.FollowerMoved> replicas) {
    }

    /**
     * {@code pg checkout}: the pg moves to a new branch at a snapshot, LSN or time (of its own history);
     * the state it leaves is kept as snapshot {@code NAME@HEAD{i}}, so checking that out returns there.
     */
    CheckedOut checkout(String name, String snapshotName, String lsn, String time) throws IOException {
        Compute c = registry.require(name);
        int given = (snapshotName != null ? 1 : 0) + (lsn != null ? 1 : 0) + (time != null ? 1 : 0);
        if (given != 1) {
            throw new InvalidRequestException("checkout needs exactly one of: snapshot, lsn, time");
        }
        if (c.record.readOnly()) {
            throw new ConflictException("pg '" + name + "' is read-only; create another pg at the point you want");
        }
        if (c.record.replicaOf() != null) {
            throw new ConflictException("pg '" + name + "' is a replica of pg '" + c.record.replicaOf() + "' and follows its"
                    + " history; check out '" + c.record.replicaOf() + "' (its replicas follow), or create another pg at"
                    + " the point you want");
        }
        if (c.running && c.record.replica()) {
            // It would leave its primary's timeline for one nothing streams to: a standby frozen for good.
            throw new ConflictException("pg '" + name + "' is a running replica; stop it first (a checkout then starts it as a"
                    + " primary at that point), or create another pg at the point you want");
        }
        Store store = registry.storeOf(c.record);
        TimelineId current = c.record.timeline();
        c.catchUp();
        // Resolve the target first: a bad point must change nothing.
        if (snapshotName != null && !snapshots.get(snapshotName).storageName().equals(c.record.storageName())) {
            throw new InvalidRequestException("snapshot '" + snapshotName + "' is on another storage");
        }
        if (snapshotName == null) {
            HistoryPoints.resolve(store, current, lsn, time);
        }
        if (c.running) {
            lifecycle.stop(c);
        }
        String head = name + "@HEAD" + snapshots.nextHeadIndex(name);
        Progress.current().phase("keeping the state pg " + name + " leaves as snapshot " + head);
        snapshots.create(head, true, c.record.storageName(), HistoryPoints.now(store, current));
        Branches.Branch b = branches.branch(snapshotName, snapshotName == null ? name : null, lsn, time, true);
        branches.move(store, c, c.record.onTimeline(b.timeline(), b.source()));
        LOG.info("pg " + name + " checked out " + b.source() + " (timeline " + b.timeline() + "); left state kept as " + head);
        lifecycle.start(c, c.record.replica(), false);
        return new CheckedOut(c, head, b.point(), moveFollowers(c));
    }

    /**
     * After {@code leader} moved to another history (a checkout, a forked start): the replicas that follow it
     * move there too. A running one whose PostgreSQL can get there by itself (the new history leaves the
     * standby's PostgreSQL timeline at or after everything it may have replayed) follows as a standby follows
     * its primary's promotion, by the walsender's end of timeline; any other running one is rebuilt from the
     * store at the new history and started again, since PostgreSQL cannot go back in its own history.
     * Answers what became of each (blocking; management lock).
     */
    List<ComputeManager.FollowerMoved> moveFollowers(Compute leader) {
        List<ComputeManager.FollowerMoved> moved = new java.util.ArrayList<>();
        TimelineId to = leader.record.timeline();
        for (Compute f : List.copyOf(registry.all())) {
            if (!leader.name().equals(f.record.replicaOf()) || f.record.sameTimelineAs(leader.record)) {
                continue;
            }
            String name = f.name();
            Store store = registry.storeOf(f.record);
            TimelineId from = f.record.timeline();
            String how;
            if (!f.running) {
                PgRegistry.save(store, f, f.record.onTimeline(to, null));
                how = "moved (stopped)";
            } else if (store.pgTimelines().standbyCanFollow(from, to)) {
                PgRegistry.save(store, f, f.record.onTimeline(to, null));
                how = "followed";
            } else {
                Progress.current().phase("rebuilding replica " + name + " at pg " + leader.name() + "'s new history");
                try {
                    lifecycle.stopCompute(f, store);
                    PgRegistry.save(store, f, f.record.onTimeline(to, null));
                    lifecycle.start(f, true, false);
                    how = "rebuilt";
                } catch (IOException | RuntimeException e) {
                    LOG.log(java.util.logging.Level.WARNING, "replica " + name + " of pg " + leader.name()
                            + " could not be rebuilt at its new history; it stays stopped", e);
                    PgRegistry.save(store, f, f.record.onTimeline(to, null).withWantRunning(false));
                    how = "stopped: " + (e.getMessage() == null ? e.toString() : e.getMessage());
                }
            }
            LOG.info("replica " + name + " of pg " + leader.name() + " on timeline " + to + ": " + how);
            moved.add(new ComputeManager.FollowerMoved(name, how));
        }
        return moved;
    }

    /** Polls the replica's replay position until it reaches {@code end}, for at most about a minute. */
    private static Lsn awaitReplay(ComputeSql sql, Lsn end) throws IOException {
        Lsn replayed = Lsn.INVALID;
        for (int i = 0; i < 600 && replayed.isBefore(end); i++) {
            replayed = Lsn.parse(sql.queryValueBlocking("SELECT pg_last_wal_replay_lsn()::text", 60));
            if (replayed.isBefore(end)) {
                PostgresProcess.sleep(100);
            }
        }
        return replayed;
    }

    /** A replica promoted: where its new PostgreSQL timeline begins, and which one it is. */
    record Promoted(Compute compute, Lsn switchPoint, int pgTimeline) {
    }

    /**
     * {@code pg promote}: a replica becomes the primary once its timeline's primary has stopped. It first
     * replays everything the store holds, then PostgreSQL promotes it onto a new PostgreSQL timeline; the
     * store gets a timeline branched at the switch point, with PostgreSQL's history file. It is stopped
     * once cleanly so the new timeline has an image of its own (crash recovery cannot cross a
     * promotion), then runs as the primary, its WAL flowing into the store.
     */
    Promoted promote(String name) throws IOException {
        Compute c = registry.require(name);
        if (!c.running || !c.record.replica()) {
            throw new ConflictException("pg '" + name + "' is not a running replica");
        }
        registry.primaryOf(c.record, c).ifPresent(other -> {
            throw new ConflictException("pg '" + other.name() + "' is still the primary of this timeline; stop it first");
        });
        Store store = registry.storeOf(c.record);
        TimelineId tl = c.record.timeline();
        Lsn end = store.wal().lastRecordEnd(tl).orElseThrow();
        ComputeSql sql = channels.sqlOf(c, store);
        Lsn replayed = management.unlocked(() -> awaitReplay(sql, end)); // up to a minute: others go on meanwhile
        if (replayed.isBefore(end)) {
            throw new UnavailableException("replica '" + name + "' has replayed up to " + replayed + " of " + end
                    + "; try again when it has caught up");
        }
        // The new PostgreSQL timeline is one no other history of the storage has.
        Path walDir = c.record.pgdata().resolve("pg_wal");
        int newTimeline = store.pgTimelines().allocate();
        List<Path> taken = directories.markTimelinesTaken(walDir, store.timelines().get(tl).orElseThrow().pgTimeline(), newTimeline);
        // returns once recovery has ended: the new timeline's history file is written
        management.unlocked(() -> {
            c.process.promote();
            return null;
        });
        for (Path p : taken) {
            Files.deleteIfExists(p);
        }
        Path history = walDir.resolve(ComputeDirectories.historyFileName(newTimeline));
        if (!Files.exists(history)) {
            throw new IOException("PostgreSQL wrote no history file of timeline " + newTimeline + " when promoting");
        }
        byte[] historyBytes = Files.readAllBytes(history);
        String[] last = new String(historyBytes, StandardCharsets.UTF_8).strip().lines()
                .reduce((a, b) -> b).orElseThrow().split("\\s+");
        Lsn switchPoint = Lsn.parse(last[1]);
        TimelineId promoted = store.timelines().create(tl, switchPoint, newTimeline).id();
        store.pgTimelines().saveHistory(promoted, historyBytes);
        Branches.recordPromotion(store, tl, name, promoted, switchPoint);
        branches.move(store, c, c.record.onTimeline(promoted, name + "@" + switchPoint + " (promoted)").withReplica(false)
                .withReplicaOf(null));
        LOG.info("pg " + name + " promoted: PostgreSQL timeline " + newTimeline + " from " + switchPoint
                + ", store timeline " + promoted);
        // A clean stop with a receiver attached gives the new timeline its WAL and its first image:
        // the receiver must stream before the stop, or the shutdown checkpoint never reaches the store.
        channels.startReceiver(c, store, ClusterPasswords.find(store).orElse(null));
        WalReceiver rx = c.receiver;
        boolean streaming = management.unlocked(() -> {
            try {
                return rx.awaitStreaming(60_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted");
            }
        });
        if (!streaming) {
            throw new IOException("the WAL receiver did not connect to promoted pg '" + name + "' within a minute");
        }
        PgRegistry.save(store, c, c.record.withWantRunning(false));
        lifecycle.stopCompute(c, store);
        lifecycle.start(c, false, false);
        return new Promoted(c, switchPoint, newTimeline);
    }
}
