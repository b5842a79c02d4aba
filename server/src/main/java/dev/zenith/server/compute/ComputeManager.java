package dev.zenith.server.compute;

import dev.zenith.pgexec.PgInstallation;
import dev.zenith.server.config.ZenithConfig;
import dev.zenith.server.history.HistoryPoint;
import dev.zenith.server.history.Snapshot;
import dev.zenith.server.history.HistoryDiff;
import dev.zenith.server.history.PgLog;
import dev.zenith.server.history.SnapshotCatalog;
import dev.zenith.server.history.StoredTimeline;
import dev.zenith.server.jobs.Management;
import dev.zenith.server.anchor.AnchorRecorder;
import dev.zenith.server.follower.Followers;
import dev.zenith.server.ingest.WalReceiver;
import dev.zenith.server.ready.ReadyDirectories;
import dev.zenith.server.redo.RedoService;
import dev.zenith.server.redo.RedoSettings;
import dev.zenith.server.security.PassFile;
import dev.zenith.server.storages.StorageRegistry;
import dev.zenith.server.replication.ComputeTimelines;
import dev.zenith.server.replication.FollowedTimelines;
import dev.zenith.storage.timeline.TimelineId;
import io.vertx.core.Vertx;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Compute nodes (pgs): stock PostgreSQL servers over a storage's timeline. Create, start, stop, destroy;
 * a WAL receiver per running primary makes its commits durable in the store; a crashed daemon takes its
 * computes back at the next start. This is the face the REST API and the daemon see; the work is done
 * by collaborators with one job each: {@link PgRegistry} (the pgs and their records),
 * {@link ComputeLifecycle} (processes, receivers, the crash watcher's bookkeeping),
 * {@link StorageAdoption} (storages' pgs joining), {@link Branches} and {@link PgBranching} (timelines,
 * create, checkout, promote), {@link RetentionPolicy} (garbage collection, snapshots' retention figures).
 *
 * <p>State-changing methods are blocking and must run under the management lock ({@link Management}); the
 * read-only ones ({@link #list()}, {@link #show}, {@link #status()}) are safe on an event loop.
 */
public final class ComputeManager implements ComputeTimelines {
    private static final Logger LOG = Logger.getLogger(ComputeManager.class.getName());
    /** The application_name our WAL receiver connects with; computes name it as their synchronous standby. */
    public static final String RECEIVER_NAME = PostgresSettings.RECEIVER_NAME;
    public static final String SLOT_NAME = "zenith_safekeeper";

    private final Vertx vertx;
    private final ZenithConfig config;
    private final PgInstallation pg;
    private final StorageRegistry storages;
    private final SnapshotCatalog snapshots;
    private final Instant startedAt = Instant.now();
    /** Where state changes run, one at a time under the management lock (long waits let go of it). */
    private final Management management;
    /** Garbage collections running without the lock; what adds history to keep waits for them. */
    private final RunningCollections collections;
    /** Timelines open replication connections follow: in use, like those of pgs and snapshots. */
    private final FollowedTimelines followed = new FollowedTimelines();
    private final PgRegistry registry;
    private final Branches branches;
    private final ComputeLifecycle lifecycle;
    private final StorageAdoption adoption;
    private final PgBranching branching;
    private final RetentionPolicy retention;
    private final PgHistory history;
    private final RedoService redo;
    private final ReadyDirectories ready;
    private final Followers followers;
    /** What followers' rebuilds take ready directories from: nothing. */
    private final ReadyDirectories noReady;
    private final AnchorRecorder anchors;
    private final ComputeWatch watch;
    private final BusyPgs busy;

    public ComputeManager(Vertx vertx, ZenithConfig config, PgInstallation pg, StorageRegistry storages, Management management)
            throws IOException {
        this.vertx = vertx;
        this.config = config;
        this.pg = pg;
        this.storages = storages;
        this.snapshots = new SnapshotCatalog(storages);
        Path computesDir = PgRegistry.prepareComputesDir(config, pg);
        // pg create, start and destroy delete directories there: no storage may live in it, or hold it.
        storages.reserve("the directory of the computes (computes.dir)", computesDir, true);
        this.management = management;
        this.ready = new ReadyDirectories(config.redo().readyDirectories());
        storages.onDetach(s -> ready.forget(s.store())); // an update under way reads the store: it ends before the close
        this.registry = new PgRegistry(config, pg, storages, computesDir);
        this.branches = new Branches(vertx, storages, snapshots, registry);
        DestroyIntents destroys = new DestroyIntents(pg, registry);
        // Sparse redo's scratch area is emptied at every start: no storage may live in it.
        storages.reserve("the redo runs' scratch directory (redo.scratch_dir)", config.redo().scratchDir(), true);
        if (config.redo().scratchDir().startsWith(config.home())) {
            // Redo runs are PostgreSQL processes too: as for computes inside the home, its user may pass through.
            pg.letServerTraverse(config.home());
        }
        this.redo = RedoService.open(pg, config.redo().scratchDir(), new RedoSettings(config.redo().sharedBuffers(),
                java.time.Duration.ofSeconds(config.redo().timeoutSeconds())), config.redo().concurrency(),
                config.redo().readConcurrency());
        redo.afterEachStep(ready);
        ComputeDirectories directories = new ComputeDirectories(pg, config.redo().startFromAnchors(), ready, redo.underWay());
        // A follower's directory is a replica's (the timeline's end rebuilt, a standby), written from the store: the
        // ready directory stays for the next compute start.
        this.noReady = new ReadyDirectories(false);
        ComputeDirectories followerDirectories = new ComputeDirectories(pg, config.redo().startFromAnchors(), noReady, null);
        this.followers = new Followers(pg, config.redo().scratchDir().resolve("followers"), config.follower(),
                (store, timeline, process) -> {
                    followerDirectories.rebuild(store, timeline, process, false);
                    followerDirectories.makeStandby(process);
                },
                timeline -> "host=" + config.pgHost() + " port=" + config.pgPort() + " user=" + config.replicationUser()
                        + " password=" + PassFile.conninfoValue(config.replicationPassword())
                        + " options='-c zenith.timeline=" + timeline + "'");
        redo.tryLiveFirst(followers);
        storages.onDetach(s -> followers.storeClosing(s.store()));
        storages.onDetach(s -> redo.storeClosing(s.store())); // a step committing after the close would crash LMDB
        this.anchors = new AnchorRecorder(vertx, config.redo().materialize() ? redo::materializeSoon
                : (store, timeline) -> LOG.info("timeline " + timeline
                        + ": anchor stored, not materialized (redo.materialize is false)"));
        ComputeChannels channels = new ComputeChannels(vertx, config, anchors);
        this.lifecycle = new ComputeLifecycle(config, pg, registry, directories, branches, management, destroys,
                channels);
        this.adoption = new StorageAdoption(storages, snapshots, registry, destroys, channels);
        this.branching = new PgBranching(registry, storages, snapshots, directories, branches, lifecycle, pg, management,
                channels);
        this.collections = new RunningCollections(management);
        this.retention = new RetentionPolicy(storages, snapshots, registry, followed, management, collections,
                config.redo().startFromAnchors());
        this.history = new PgHistory(storages, snapshots, registry, new SnapshotCheckpoint(management, channels, anchors,
                config.redo().startFromAnchors() && config.redo().materialize()));
        this.watch = new ComputeWatch(vertx, management, storages, registry, lifecycle, adoption, retention);
        this.busy = new BusyPgs(registry);
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
        watch.restartWanted(c -> true);
        watch.begin();
    }

    // ---- queries (event loop safe) ----

    /** What GET /status tells of the daemon. */
    public record DaemonStatus(long pid, Path home, int httpPort, int pgPort, Instant startedAt, int storages,
                               long pgsRunning, List<PgView> pgs) {
    }

    public DaemonStatus status() {
        List<PgView> pgs = pgs();
        return new DaemonStatus(ProcessHandle.current().pid(), config.home(), config.httpPort(), config.pgPort(),
                startedAt, storages.list().size(), pgs.stream().filter(PgView::running).count(), pgs);
    }

    /** The pgs of the available storages, by name (those of unavailable ones: StorageRegistry.pgsOfUnavailable). */
    public List<PgView> pgs() {
        return registry.sortedByName().stream().map(this::view).toList();
    }

    public PgView show(String name) {
        return view(registry.require(name));
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

    private PgView view(Compute c) {
        PgRecord r = c.record;
        WalReceiver rx = c.receiver;
        return new PgView(r.name(), r.storageName(), c.running, r.role(),
                lifecycle.replicationConnstr(r, "passfile=" + PassFile.conninfoValue(config.passFile().toString())),
                r.replicaOf(), r.source(), r.port(), "postgresql://postgres@127.0.0.1:" + r.port() + "/postgres?passfile="
                        + PassFile.uriQueryValue(config.passFile()),
                r.timeline(), registry.lastLsn(c), r.pgdata(), r.logfile(), r.createdAt(), rx == null ? null : rx.figures());
    }

    // ---- storages (management lock) ----

    /** See {@link StorageAdoption#attach}. */
    public StorageRegistry.Storage attachStorage(String name, String type, String path, Duration pitr) throws IOException {
        return attachStorage(name, type, path, pitr, null, null, null);
    }

    /** As above; {@code endpoint}, {@code region} and {@code cacheBytes} (null: the conf default) for an s3 storage. */
    public StorageRegistry.Storage attachStorage(String name, String type, String path, Duration pitr, String endpoint,
                                                 String region, Long cacheBytes) throws IOException {
        // an s3 storage's lease and restore run without the management lock: other storages stay usable
        return adoption.attach(name, type, path, pitr, endpoint, region, cacheBytes, management::unlocked);
    }

    /** Detaches a storage no pg uses (blocking). */
    public void detachStorage(String name) throws IOException {
        collections.awaitNone(name); // its store stays open while it is collected
        adoption.detach(name);
    }

    public void checkStorageUnused(String storage) {
        registry.checkStorageUnused(storage);
    }

    // ---- pgs (management lock) ----

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

    /** A pg made, and the point its timeline branched at (null on the main timeline). */
    public record Created(PgView pg, HistoryPoint branch) {
    }

    public Created create(CreateRequest req) throws IOException {
        if (req.branches()) {
            collections.awaitNone(null); // its branch point must not be collected meanwhile
        }
        PgBranching.Created created = branching.create(req);
        return new Created(view(created.compute()), created.branch());
    }

    /** A pg checked out: the snapshot keeping the state it left, and the point it moved to. */
    public record CheckedOut(PgView pg, String savedAs, HistoryPoint branch, List<FollowerMoved> replicas) {
    }

    /** See {@link PgBranching#checkout}. */
    public CheckedOut checkout(String name, String snapshotName, String lsn, String time) throws IOException {
        collections.awaitNone(null); // the point it moves to must not be collected meanwhile
        busy.refuseWhileFollowersBusy(name);
        PgBranching.CheckedOut done = busy.busyWith(name, Compute.Busy.CHECKING_OUT,
                c -> branching.checkout(name, snapshotName, lsn, time));
        return new CheckedOut(view(done.compute()), done.savedAs(), done.branch(), done.replicas());
    }

    /** A replica promoted: where its new PostgreSQL timeline begins, and which one it is. */
    public record Promoted(PgView pg, dev.zenith.wal.Lsn promotedAt, int pgTimeline) {
    }

    /** See {@link PgBranching#promote}. */
    public Promoted promote(String name) throws IOException {
        PgBranching.Promoted done = busy.busyWith(name, Compute.Busy.PROMOTING, c -> branching.promote(name));
        return new Promoted(view(done.compute()), done.switchPoint(), done.pgTimeline());
    }

    /** A pg started; {@code replicas}: what its replicas did when the start forked it (else null). */
    public record Started(PgView pg, List<FollowerMoved> replicas) {
    }

    /** What became of a replica that follows a pg which moved to another history: moved, followed, rebuilt, stopped. */
    public record FollowerMoved(String name, String how) {
    }

    /** See {@link ComputeLifecycle#start}. */
    public Started start(String name, boolean asReplica, boolean force) throws IOException {
        Compute c = busy.idle(name);
        busy.refuseWhileFollowersBusy(name); // a forked start moves them
        boolean forked = lifecycle.start(c, asReplica, force);
        return new Started(view(c), forked ? branching.moveFollowers(c) : null);
    }

    /**
     * {@code is_replica} as a REST client gives it, or not ({@code null}): then a replica of a pg starts as
     * one again, any other pg as a primary.
     */
    public Started start(String name, Boolean asReplica, boolean force) throws IOException {
        return start(name, asReplica != null ? asReplica : registry.require(name).record.replicaOf() != null, force);
    }

    public PgView stop(String name) throws IOException {
        return view(busy.busyWith(name, Compute.Busy.STOPPING, c -> {
            lifecycle.stop(c);
            awaitRemote(c.record.storageName());
            return c;
        }));
    }

    /**
     * After a clean stop, a storage kept elsewhere (s3) holds there everything it holds here before the stop
     * returns; the wait lets go of the management lock. An unreachable remote ends it after the storage's
     * stop wait (the log says so; the upload goes on).
     */
    private void awaitRemote(String storage) throws IOException {
        if (storages.remoteStatus(storage) == null) {
            return;
        }
        dev.zenith.server.jobs.Progress.current().phase("uploading storage " + storage + " to S3");
        boolean done = management.unlocked(() -> storages.syncRemote(storage, config.offload().stopWait()));
        if (!done) {
            LOG.warning("storage '" + storage + "': the stop returns before S3 holds everything (see storage show)");
        }
    }

    /** See {@link ComputeLifecycle#destroy}; the pg as it was last. */
    public PgView destroy(String name) throws IOException {
        return view(busy.busyWith(name, Compute.Busy.DESTROYING, c -> {
            lifecycle.destroy(c);
            return c;
        }));
    }

    // ---- history ----

    /** See {@link PgHistory#createSnapshot}. */
    /** A snapshot made, with a note on how its point was found (or null). */
    public record CreatedSnapshot(Snapshot snapshot, String note) {
    }

    public CreatedSnapshot createSnapshot(String fullName, String lsn, String time) throws IOException {
        collections.awaitNone(null); // its point must not be collected meanwhile
        return history.createSnapshot(fullName, lsn, time);
    }

    public Snapshot destroySnapshot(String fullName) {
        return history.destroySnapshot(fullName);
    }

    public HistoryDiff.Diff diffSnapshots(String from, String to) {
        return history.diffSnapshots(from, to);
    }

    /** See {@link RetentionPolicy#collectGarbage}. */
    public RetentionPolicy.Collected collectGarbage(String storageName, Duration pitrOverride) throws IOException {
        return retention.collectGarbage(storageName, pitrOverride);
    }

    /**
     * Snapshots with what each one alone keeps alive: the WAL and page bytes a collection would free
     * without it, beyond the PITR window, the other snapshots and the branches.
     */
    public List<RetentionPolicy.SnapshotRetention> listSnapshots(String only) {
        return listSnapshots(s -> only == null || only.equals(s.fullName()), true);
    }

    /** The snapshots {@code which} picks; with {@code sizes} false, without what each keeps (cheap). */
    public List<RetentionPolicy.SnapshotRetention> listSnapshots(Predicate<Snapshot> which, boolean sizes) {
        return retention.listSnapshots(which, sizes);
    }

    /** See {@link PgHistory#log}. */
    public PgLog.Page log(String name, Instant since, Instant until, int limit) {
        return history.log(name, since, until, limit);
    }

    /** See {@link PgHistory#timelines}. */
    public List<StoredTimeline> timelines() {
        return history.timelines();
    }

    // ---- shutdown ----

    /** See {@link ComputeLifecycle#stopAllBlocking}. */
    public void stopAllBlocking() {
        busy.awaitNoStart(Duration.ofMinutes(10)); // as long as pg_ctl waits for a start
        lifecycle.stopAllBlocking();
    }

    /**
     * After {@link #stopAllBlocking}: no periodic work starts any more, and what was queued on the
     * management threads has finished, so the stores can be closed under nobody's feet.
     */
    public void close() {
        watch.end();
        try {
            management.drain(5, TimeUnit.MINUTES);
        } catch (Exception e) {
            LOG.log(Level.WARNING, "management work did not drain before shutdown", e);
        }
        anchors.close();
        followers.close();
        noReady.close();
        redo.close();
        ready.close(); // after the steps that queue its updates
    }

    /** The follower standbys latest reads under writes are answered from (their counts, for tests and benches). */
    public Followers followers() {
        return followers;
    }

    /** What the page service answers a storage's GetPage from: page versions, redo where none is exact. */
    @Override
    public dev.zenith.storage.page.PageSource pageSource(dev.zenith.storage.Store store) {
        return redo.pageSource(store);
    }
}
