package dev.zenith.server.compute;

import dev.zenith.pgexec.PgInstallation;
import dev.zenith.pgexec.PrivateFiles;
import dev.zenith.server.config.ZenithConfig;
import dev.zenith.server.domain.ConflictException;
import dev.zenith.server.domain.InvalidRequestException;
import dev.zenith.server.history.HistoryDiff;
import dev.zenith.server.history.HistoryPoint;
import dev.zenith.server.history.HistoryPoints;
import dev.zenith.server.history.PgLog;
import dev.zenith.server.history.Snapshot;
import dev.zenith.server.history.SnapshotCatalog;
import dev.zenith.server.jobs.Management;
import dev.zenith.server.safekeeper.WalReceiver;
import dev.zenith.server.security.PassFile;
import dev.zenith.server.storages.StorageRegistry;
import dev.zenith.server.walservice.ComputeTimelines;
import dev.zenith.server.walservice.FollowedTimelines;
import dev.zenith.storage.Store;
import dev.zenith.storage.timeline.TimelineId;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.logging.Level;
import java.util.logging.Logger;
import java.util.stream.Collectors;

/**
 * Compute nodes (pgs): stock PostgreSQL servers over a storage's timeline. Create, start, stop, destroy;
 * a WAL receiver per running primary makes its commits durable in the store; a crashed daemon takes its
 * computes back at the next start. This is the face the REST API and the daemon see; the work is done
 * by collaborators with one job each: {@link PgRegistry} (the pgs and their records),
 * {@link ComputeLifecycle} (processes, receivers, the crash watcher's bookkeeping),
 * {@link StorageAdoption} (storages' pgs joining), {@link Branches} and {@link PgBranching} (timelines,
 * create, checkout, promote), {@link RetentionPolicy} (garbage collection, snapshots' retention figures).
 *
 * <p>State-changing methods are blocking and must run on the daemon's single management thread; the
 * read-only ones ({@link #list()}, {@link #show}, {@link #status()}) are safe on an event loop.
 */
public final class ComputeManager implements ComputeTimelines {
    private static final Logger LOG = Logger.getLogger(ComputeManager.class.getName());
    /** The application_name our WAL receiver connects with; computes name it as their synchronous standby. */
    public static final String RECEIVER_NAME = PostgresSettings.RECEIVER_NAME;
    public static final String SLOT_NAME = "zenith_safekeeper";
    /** How often storages held by another process at start are tried again. */
    private static final long RELEASED_STORAGE_POLL_MS = 2000;

    private final Vertx vertx;
    private final ZenithConfig config;
    private final PgInstallation pg;
    private final StorageRegistry storages;
    private final SnapshotCatalog snapshots;
    private final Instant startedAt = Instant.now();
    /** Where state changes run, one at a time under the management lock (long waits let go of it). */
    private final Management management;
    private final List<Long> timers = new CopyOnWriteArrayList<>();
    /** Timelines open replication connections follow: in use, like those of pgs and snapshots. */
    private final FollowedTimelines followed = new FollowedTimelines();
    private final PgRegistry registry;
    private final Branches branches;
    private final ComputeLifecycle lifecycle;
    private final StorageAdoption adoption;
    private final PgBranching branching;
    private final RetentionPolicy retention;

    public ComputeManager(Vertx vertx, ZenithConfig config, PgInstallation pg, StorageRegistry storages, Management management)
            throws IOException {
        this.vertx = vertx;
        this.config = config;
        this.pg = pg;
        this.storages = storages;
        this.snapshots = new SnapshotCatalog(storages);
        Path computesDir = prepareComputesDir();
        // pg create, start and destroy delete directories there: no storage may live in it, or hold it.
        storages.reserve("the directory of the computes (computes.dir)", computesDir, true);
        this.management = management;
        ComputeDirectories directories = new ComputeDirectories(pg);
        this.registry = new PgRegistry(config, pg, storages, computesDir);
        this.branches = new Branches(vertx, storages, snapshots, registry);
        this.lifecycle = new ComputeLifecycle(vertx, config, pg, registry, directories, branches, management);
        this.adoption = new StorageAdoption(storages, snapshots, registry, lifecycle);
        this.branching = new PgBranching(registry, storages, snapshots, directories, branches, lifecycle, pg, management);
        this.retention = new RetentionPolicy(storages, snapshots, registry, followed);
    }

    /**
     * The directory of the compute data directories: 0700, other users kept out. When we are root,
     * PostgreSQL runs as an unprivileged user who must reach its data directories: it (and no one else)
     * may pass through this directory, and through ZENITH_HOME when it is inside. When that user cannot
     * reach the configured place, computes live under /var/tmp instead (they are caches: the store holds
     * the data), and the log says so.
     */
    private Path prepareComputesDir() throws IOException {
        Path dir = config.computesDir();
        PrivateFiles.directory(dir);
        if (pg.runAsUser().isEmpty()) {
            return dir;
        }
        if (dir.startsWith(config.home())) {
            pg.letServerTraverse(config.home());
        }
        pg.letServerTraverse(dir);
        try {
            pg.checkReachable(dir);
            return dir;
        } catch (IOException unreachable) {
            Path fallback = Path.of("/var/tmp", "zenith-" + Integer.toHexString(config.home().toString().hashCode()), "pgs");
            // A name anyone could have taken first: refused unless it is ours (PrivateFiles checks the owner).
            for (Path p : List.of(fallback.getParent(), fallback)) {
                PrivateFiles.directory(p);
                pg.letServerTraverse(p);
            }
            pg.checkReachable(fallback);
            LOG.warning(unreachable.getMessage() + " Compute data directories go to " + fallback + " instead.");
            return fallback;
        }
    }

    /** At daemon start: load every pg, take back the ones still running, note the ones that died. */
    public void recover() throws IOException {
        for (StorageRegistry.Storage s : storages.list()) {
            try {
                snapshots.load(s);
                adoption.takeIn(s);
            } catch (RuntimeException e) { // its documents do not read back: the others must still work
                LOG.log(Level.SEVERE, "storage '" + s.name() + "' is not used: its pgs and snapshots cannot be read", e);
                registry.forgetStorage(s.name());
                snapshots.forget(s.name());
                storages.setUnavailable(s.name(), "its pgs and snapshots cannot be read: " + e.getMessage());
            }
        }
        registry.publishPassFile(); // also with no storage: the replication port's login
        // Computes that should run but do not (stopped with the daemon, or died while it was away) start
        // again; a directory not known to be clean is rebuilt from the store.
        restartWanted(c -> true);
        timers.add(vertx.setPeriodic(RELEASED_STORAGE_POLL_MS, id -> {
            if (storages.anyHeldElsewhere()) { // almost always none: then no trip to the management thread
                management.run(() -> {
                    adoption.takeReleasedStorages(this::restartWanted);
                    return null;
                });
            }
        }));
        timers.add(vertx.setPeriodic(2000, id -> watchComputes()));
        timers.add(vertx.setPeriodic(3_600_000, id -> storages.list().forEach(s -> management.run(
                () -> collectGarbage(s.name(), null)))));
    }

    /** Starts the pgs that should run but do not; one that cannot start is marked stopped (blocking). */
    private void restartWanted(Predicate<Compute> which) {
        for (Compute c : List.copyOf(registry.all())) {
            if (which.test(c) && c.record.wantRunning() && !c.running) {
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
     * The bookkeeping runs on the management thread, like every other state change.
     */
    private void watchComputes() {
        for (Compute c : registry.all()) {
            if (!c.running || c.stopping) {
                continue;
            }
            management.run(() -> {
                lifecycle.noteIfDied(c);
                return null;
            });
        }
    }

    // ---- queries (event loop safe) ----

    public JsonObject status() {
        JsonArray pgs = list();
        long running = registry.all().stream().filter(c -> c.running).count();
        return new JsonObject().put("pid", ProcessHandle.current().pid()).put("home", config.home().toString())
                .put("http_port", config.httpPort()).put("pg_port", config.pgPort())
                .put("started_at", startedAt.toString()).put("storages", storages.list().size())
                .put("pgs_running", running).put("pgs", pgs);
    }

    public JsonArray list() {
        JsonArray a = new JsonArray();
        registry.sortedByName().forEach(c -> a.add(toJson(c)));
        storages.pgsOfUnavailable().forEach(a::add); // listed, so that they neither vanish nor lose their names
        return a;
    }

    public JsonObject show(String name) {
        return toJson(registry.require(name));
    }

    @Override
    public Optional<TimelineRef> timelineOf(String pgName) {
        return registry.find(pgName).map(c -> new TimelineRef(c.record.storageName(), c.record.timeline()));
    }

    @Override
    public boolean hasWriter(String storageName, TimelineId timeline) {
        return registry.hasWriter(storageName, timeline);
    }

    @Override
    public FollowedTimelines followedTimelines() {
        return followed;
    }

    public void checkExists(String name) {
        registry.require(name);
    }

    public SnapshotCatalog snapshots() {
        return snapshots;
    }

    private JsonObject toJson(Compute c) {
        PgRecord r = c.record;
        WalReceiver rx = c.receiver;
        return new JsonObject().put("name", r.name()).put("storage_name", r.storageName())
                .put("status", c.running ? "running" : "stopped")
                .put("role", r.role().toString())
                .put("replication_connstr", lifecycle.replicationConnstr(r, "passfile="
                        + PassFile.conninfoValue(config.passFile().toString())))
                .put("read_only", r.readOnly()).put("replica_of", r.replicaOf()).put("source", r.source()).put("port", r.port())
                .put("connstr", "postgresql://postgres@127.0.0.1:" + r.port() + "/postgres?passfile="
                        + PassFile.uriQueryValue(config.passFile()))
                .put("timeline_id", r.timeline().toString()).put("last_lsn", registry.lastLsn(c).toString())
                .put("pgdata", r.pgdata().toString()).put("logfile", r.logfile().toString())
                .put("created_at", r.createdAt().toString())
                .put("wal_receiver", rx == null ? null : rx.stats());
    }

    // ---- storages (management thread) ----

    /** See {@link StorageAdoption#attach}. */
    public StorageRegistry.Storage attachStorage(String name, String type, String path, Duration pitr) throws IOException {
        return adoption.attach(name, type, path, pitr);
    }

    /** Detaches a storage no pg uses (blocking). */
    public void detachStorage(String name) throws IOException {
        adoption.detach(name);
    }

    public void checkStorageUnused(String storage) {
        registry.checkStorageUnused(storage);
    }

    // ---- pgs (management thread) ----

    /**
     * What {@code pg create} asks for. Without a source the pg runs on its storage's main timeline (the
     * first one runs initdb). With {@code snapshot}, or {@code fromPg} plus an optional {@code lsn} or
     * {@code time}, it gets a new timeline branched at that point: a metadata write, no data copied.
     */
    public record CreateRequest(String name, String storageName, boolean start, String snapshot, String fromPg,
                                String lsn, String time, boolean readOnly, String replicaOf) {
        boolean branches() {
            return snapshot != null || fromPg != null;
        }
    }

    public JsonObject create(CreateRequest req) throws IOException {
        PgBranching.Created created = branching.create(req);
        JsonObject json = toJson(created.compute());
        return created.branch() == null ? json : json.put("branch", created.branch().toJson());
    }

    /** See {@link PgBranching#checkout}. */
    public JsonObject checkout(String name, String snapshotName, String lsn, String time) throws IOException {
        PgBranching.CheckedOut done = busyWith(name, Compute.Busy.CHECKING_OUT,
                c -> branching.checkout(name, snapshotName, lsn, time));
        return toJson(done.compute()).put("saved_as", done.savedAs()).put("branch", done.branch().toJson())
                .put("replicas", movedJson(done.replicas()));
    }

    /** See {@link PgBranching#promote}. */
    public JsonObject promote(String name) throws IOException {
        PgBranching.Promoted done = busyWith(name, Compute.Busy.PROMOTING, c -> branching.promote(name));
        return toJson(done.compute()).put("promoted_at", done.switchPoint().toString()).put("pg_timeline", done.pgTimeline());
    }

    /** Starts a pg as it last ran: primary, replica or read-only node. */
    public JsonObject start(String name) throws IOException {
        return start(name, registry.require(name).record.replica());
    }

    public JsonObject start(String name, boolean asReplica) throws IOException {
        return start(name, asReplica, false);
    }

    /** See {@link ComputeLifecycle#start}. */
    public JsonObject start(String name, boolean asReplica, boolean force) throws IOException {
        Compute c = idle(name);
        boolean forked = lifecycle.start(c, asReplica, force);
        JsonObject json = toJson(c);
        return forked ? json.put("replicas", movedJson(branching.moveFollowers(c))) : json;
    }

    /**
     * {@code is_replica} as a REST client gives it, or not ({@code null}): then a replica of a pg starts as
     * one again, any other pg as a primary.
     */
    public JsonObject start(String name, Boolean asReplica, boolean force) throws IOException {
        return start(name, asReplica != null ? asReplica : registry.require(name).record.replicaOf() != null, force);
    }

    private static JsonArray movedJson(List<PgBranching.FollowerMoved> moved) {
        JsonArray a = new JsonArray();
        moved.forEach(m -> a.add(new JsonObject().put("name", m.name()).put("how", m.how())));
        return a;
    }

    public JsonObject stop(String name) throws IOException {
        return toJson(busyWith(name, Compute.Busy.STOPPING, c -> {
            lifecycle.stop(c);
            return c;
        }));
    }

    /** See {@link ComputeLifecycle#destroy}. */
    public JsonObject destroy(String name) throws IOException {
        return toJson(busyWith(name, Compute.Busy.DESTROYING, c -> {
            lifecycle.destroy(c);
            return c;
        })).put("status", "destroyed");
    }

    /** A pg no long action is under way on (409 otherwise: that action lets go of the lock while it waits). */
    private Compute idle(String name) {
        Compute c = registry.require(name);
        Compute.Busy busy = c.busy;
        if (busy != null) {
            throw new ConflictException("pg '" + name + "' is " + busy + "; try again when that is done");
        }
        return c;
    }

    private interface Action<T> {
        T on(Compute c) throws IOException;
    }

    /** Runs a long action on an idle pg, marking it busy meanwhile. */
    private <T> T busyWith(String name, Compute.Busy what, Action<T> action) throws IOException {
        Compute c = idle(name);
        c.busy = what;
        try {
            return action.on(c);
        } finally {
            c.busy = null;
        }
    }

    // ---- history ----

    public JsonObject createSnapshot(String fullName, String lsn, String time) {
        String[] parts = SnapshotCatalog.parseName(fullName, false);
        Compute c = registry.require(parts[0]);
        c.catchUp();
        Store store = registry.storeOf(c.record);
        HistoryPoint p = HistoryPoints.resolve(store, c.record.timeline(), lsn, time);
        JsonObject json = snapshots.create(fullName, false, c.record.storageName(), p).toJson();
        return p.note() == null ? json : json.put("note", p.note());
    }

    public JsonObject destroySnapshot(String fullName) {
        Snapshot s = snapshots.get(fullName);
        Map<TimelineId, List<String>> inUse = registry.onStorage(s.storageName()).stream()
                .collect(Collectors.groupingBy(c -> c.record.timeline(), Collectors.mapping(Compute::name, Collectors.toList())));
        return snapshots.destroy(fullName, inUse).toJson().put("status", "destroyed");
    }

    public JsonObject diffSnapshots(String from, String to) {
        Snapshot a = snapshots.get(from);
        Snapshot b = snapshots.get(to);
        if (!a.storageName().equals(b.storageName())) {
            throw new InvalidRequestException("snapshots '" + from + "' and '" + to + "' are on different storages");
        }
        return HistoryDiff.between(storages.get(a.storageName()).store(), a, b);
    }

    /** See {@link RetentionPolicy#collectGarbage}. */
    public JsonObject collectGarbage(String storageName, Duration pitrOverride) {
        return retention.collectGarbage(storageName, pitrOverride);
    }

    /**
     * Snapshots with what each one alone keeps alive: the WAL and page bytes a collection would free
     * without it, beyond the PITR window, the other snapshots and the branches.
     */
    public JsonArray listSnapshots(String only) {
        return listSnapshots(s -> only == null || only.equals(s.fullName()), true);
    }

    /** The snapshots {@code which} picks; with {@code sizes} false, without what each keeps (cheap). */
    public JsonArray listSnapshots(Predicate<Snapshot> which, boolean sizes) {
        return retention.listSnapshots(which, sizes);
    }

    /** A pg's history, newest first (see {@link PgLog}); blocking. */
    public JsonObject log(String name, Instant since, Instant until, int limit) {
        Compute c = registry.require(name);
        c.catchUp();
        String storage = c.record.storageName();
        Map<String, TimelineId> pgTimelines = new HashMap<>();
        registry.onStorage(storage).forEach(o -> pgTimelines.put(o.name(), o.record.timeline()));
        List<Snapshot> ofStorage = snapshots.list().stream().filter(sn -> sn.storageName().equals(storage)).toList();
        return PgLog.of(new PgLog.Subject(name, c.record.timeline(), storages.get(storage).store(), ofStorage, pgTimelines),
                since, until, limit);
    }

    /** Every timeline of every available storage: its parent and branch point (for zenith tree); blocking. */
    public JsonArray timelines() {
        JsonArray out = new JsonArray();
        for (StorageRegistry.Storage s : storages.list()) {
            for (var t : s.store().timelines().all()) {
                out.add(new JsonObject().put("storage_name", s.name()).put("timeline_id", t.id().toString())
                        .put("parent_id", t.parent() == null ? null : t.parent().toString())
                        .put("branch_lsn", t.parent() == null ? null : t.branchLsn().toString())
                        .put("pg_timeline", t.pgTimeline()).put("created_at", t.createdAt().toString()));
            }
        }
        return out;
    }

    // ---- shutdown ----

    /** See {@link ComputeLifecycle#stopAllBlocking}. */
    public void stopAllBlocking() {
        lifecycle.stopAllBlocking();
    }

    /**
     * After {@link #stopAllBlocking}: no periodic work starts any more, and what was queued on the
     * management thread has finished, so the stores can be closed under nobody's feet.
     */
    public void close() {
        timers.forEach(vertx::cancelTimer);
        try {
            management.drain(5, TimeUnit.MINUTES);
        } catch (Exception e) {
            LOG.log(Level.WARNING, "management work did not drain before shutdown", e);
        }
    }
}
