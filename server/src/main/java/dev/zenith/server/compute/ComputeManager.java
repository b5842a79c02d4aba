package dev.zenith.server.compute;

import dev.zenith.server.domain.DomainException;
import dev.zenith.server.domain.InvalidRequestException;
import dev.zenith.server.domain.NotFoundException;
import dev.zenith.server.domain.ConflictException;
import dev.zenith.server.domain.UnavailableException;
import dev.zenith.pgexec.FileTrees;
import dev.zenith.pgexec.PgInstallation;
import dev.zenith.pgexec.PrivateFiles;
import dev.zenith.server.config.ZenithConfig;
import dev.zenith.server.jobs.Progress;
import dev.zenith.server.history.PgLog;
import dev.zenith.server.history.HistoryDiff;
import dev.zenith.server.history.HistoryPoint;
import dev.zenith.server.history.HistoryPoints;
import dev.zenith.server.history.Snapshot;
import dev.zenith.server.history.SnapshotCatalog;
import dev.zenith.server.safekeeper.WalReceiver;
import dev.zenith.server.security.PassFile;
import dev.zenith.server.security.Secrets;
import dev.zenith.server.walservice.ComputeTimelines;
import dev.zenith.server.walservice.FollowedTimelines;
import dev.zenith.server.walservice.ReplicationSlots;
import dev.zenith.server.storages.StorageRegistry;
import dev.zenith.storage.Store;
import dev.zenith.storage.timeline.PgTimelines;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.storage.wal.WalAppend;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.control.ControlFile;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.WorkerExecutor;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Compute nodes (pgs): stock PostgreSQL servers over a storage's timeline. Create, start, stop, destroy;
 * a WAL receiver per running primary makes its commits durable in the store; a crashed daemon takes its
 * computes back at the next start.
 *
 * <p>State-changing methods are blocking and must run on the daemon's single management thread; the
 * read-only ones ({@link #list()}, {@link #show}, {@link #status()}) are safe on an event loop.
 */
public final class ComputeManager implements ComputeTimelines {
    private static final Logger LOG = Logger.getLogger(ComputeManager.class.getName());
    /** The application_name our WAL receiver connects with; computes name it as their synchronous standby. */
    public static final String RECEIVER_NAME = PostgresSettings.RECEIVER_NAME;
    public static final String SLOT_NAME = "zenith_safekeeper";
    public static final String MANAGEMENT_EXECUTOR = "zenith-management";
    /** Meta key prefix: which pg was promoted from a timeline ({@code promoted/<timeline id>}), which fences it. */
    private static final String PROMOTED_FROM_KEY = "promoted/";
    /** How often storages held by another process at start are tried again. */
    private static final long RELEASED_STORAGE_POLL_MS = 2000;

    private final Vertx vertx;
    private final ZenithConfig config;
    private final PgInstallation pg;
    private final StorageRegistry storages;
    private final ComputeDirectories directories;
    private final SnapshotCatalog snapshots;
    private final Path computesDir;
    private final ComputePorts ports;
    private final Map<String, Compute> computes = new ConcurrentHashMap<>();
    private final Instant startedAt = Instant.now();
    /** The daemon's management executor (same name, same single thread): state changes run one at a time. */
    private final WorkerExecutor management;
    private final List<Long> timers = new java.util.concurrent.CopyOnWriteArrayList<>();
    /** Timelines open replication connections follow: in use, like those of pgs and snapshots. */
    private final FollowedTimelines followed = new FollowedTimelines();

    /** A compute's persistent record plus what only the running daemon knows. */
    private static final class Compute {
        volatile PgRecord record;
        final PostgresProcess process;
        volatile boolean running;
        /** Set while we stop it ourselves, so the crash watcher does not mistake that for a death. */
        volatile boolean stopping;
        volatile WalReceiver receiver;
        /** The daemon's SQL connection to it, made at the first question, closed when it stops. */
        volatile ComputeSql sql;
        volatile Lsn lastLsn = Lsn.INVALID;

        Compute(PgRecord record, PostgresProcess process) {
            this.record = record;
            this.process = process;
        }
    }

    public ComputeManager(Vertx vertx, ZenithConfig config, PgInstallation pg, StorageRegistry storages) throws IOException {
        this.vertx = vertx;
        this.config = config;
        this.pg = pg;
        this.storages = storages;
        this.directories = new ComputeDirectories(pg);
        this.snapshots = new SnapshotCatalog(storages);
        this.computesDir = prepareComputesDir();
        this.ports = new ComputePorts(config.computeFirstPort());
        // pg create, start and destroy delete directories there: no storage may live in it, or hold it.
        storages.reserve("the directory of the computes (computes.dir)", computesDir, true);
        this.management = vertx.createSharedWorkerExecutor(MANAGEMENT_EXECUTOR, 1, 30, TimeUnit.MINUTES);
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
                takeIn(s);
            } catch (RuntimeException e) { // its documents do not read back: the others must still work
                LOG.log(Level.SEVERE, "storage '" + s.name() + "' is not used: its pgs and snapshots cannot be read", e);
                computes.values().removeIf(c -> c.record.storageName().equals(s.name()));
                snapshots.forget(s.name());
                storages.setUnavailable(s.name(), "its pgs and snapshots cannot be read: " + e.getMessage());
            }
        }
        publishPassFile(); // also with no storage: the replication port's login
        // Computes that should run but do not (stopped with the daemon, or died while it was away) start
        // again; a directory not known to be clean is rebuilt from the store.
        restartWanted(c -> true);
        timers.add(vertx.setPeriodic(RELEASED_STORAGE_POLL_MS, id -> {
            if (storages.anyHeldElsewhere()) { // almost always none: then no trip to the management thread
                management.executeBlocking(() -> {
                    takeReleasedStorages();
                    return null;
                }, true);
            }
        }));
        timers.add(vertx.setPeriodic(2000, id -> watchComputes()));
        timers.add(vertx.setPeriodic(3_600_000, id -> storages.list().forEach(s -> management.executeBlocking(
                () -> collectGarbage(s.name(), null), true))));
    }

    // ---- queries (event loop safe) ----

    public JsonObject status() {
        JsonArray pgs = list();
        long running = computes.values().stream().filter(c -> c.running).count();
        return new JsonObject().put("pid", ProcessHandle.current().pid()).put("home", config.home().toString())
                .put("http_port", config.httpPort()).put("pg_port", config.pgPort())
                .put("started_at", startedAt.toString()).put("storages", storages.list().size())
                .put("pgs_running", running).put("pgs", pgs);
    }

    public JsonArray list() {
        JsonArray a = new JsonArray();
        computes.values().stream().sorted((x, y) -> x.record.name().compareTo(y.record.name()))
                .forEach(c -> a.add(toJson(c)));
        storages.pgsOfUnavailable().forEach(a::add); // listed, so that they neither vanish nor lose their names
        return a;
    }

    public JsonObject show(String name) {
        return toJson(require(name));
    }

    @Override
    public Optional<TimelineRef> timelineOf(String pgName) {
        Compute c = computes.get(pgName);
        return c == null ? Optional.empty()
                : Optional.of(new TimelineRef(c.record.storageName(), TimelineId.parse(c.record.timelineId())));
    }

    @Override
    public boolean hasWriter(String storageName, TimelineId timeline) {
        String id = timeline.toString();
        return computes.values().stream().anyMatch(c -> c.running && isPrimary(c)
                && c.record.storageName().equals(storageName) && c.record.timelineId().equals(id));
    }

    public void checkExists(String name) {
        require(name);
    }

    private Compute require(String name) {
        Compute c = computes.get(name);
        if (c == null) {
            refuseIfOnUnavailableStorage(name);
            throw new NotFoundException("pg '" + name + "' not found");
        }
        return c;
    }

    /** A pg of a storage that is unavailable now: known by name, unusable (409). */
    private void refuseIfOnUnavailableStorage(String name) {
        storages.unavailableHolding(name).ifPresent(u -> {
            throw new ConflictException("pg '" + name + "' is on storage '" + u.getString("name")
                    + "', which is unavailable: " + u.getString("error"));
        });
    }

    /**
     * Loads the pgs a storage holds and takes back the ones still running (blocking). A pg whose record
     * another daemon wrote (another storage name or directory than it would have here) joins stopped,
     * adopted as {@link #attachStorage} does; one whose port went to another pg meanwhile gets a new one.
     * When a name is already a pg of another storage here, the storage is made unavailable instead,
     * nothing of it is loaded, and this returns false.
     */
    private boolean takeIn(StorageRegistry.Storage s) throws IOException {
        finishDestroysCutShort(s);
        List<PgRecord> found = storedPgs(s.store());
        List<String> taken = namesTakenHere(found);
        if (!taken.isEmpty()) {
            String error = "it holds pg(s) " + taken + " and this daemon has pgs of those names in other storages;"
                    + " destroy or rename those, then detach and attach this storage again";
            LOG.severe("storage '" + s.name() + "' is not used: " + error);
            snapshots.forget(s.name());
            storages.setUnavailable(s.name(), error);
            return false;
        }
        List<PgRecord> foreign = new ArrayList<>();
        List<Compute> portTaken = new ArrayList<>();
        for (PgRecord r : found) {
            if (!r.storageName().equals(s.name()) || !r.pgdata().equals(computesDir.resolve(r.name()))) {
                foreign.add(r); // after ours, so that no port they keep is handed out again
                continue;
            }
            boolean portFree = computes.values().stream().noneMatch(c -> c.record.port() == r.port());
            Compute c = loaded(s.store(), r);
            computes.put(r.name(), c);
            if (r.wantRunning() && c.process.runningPid().isPresent()) {
                LOG.info("pg " + r.name() + " is still running: taking it back");
                c.running = true;
                if (isPrimary(c)) {
                    startReceiver(c, s.store(), ClusterPasswords.find(s.store()).orElse(null));
                }
            } else if (!portFree) {
                portTaken.add(c); // given while this storage was unavailable: it gets another
            }
        }
        for (Compute c : portTaken) {
            save(s.store(), c, c.record.withPort(allocatePort()));
            LOG.info("pg " + c.record.name() + " moves to port " + c.record.port() + " (its port went to another pg)");
        }
        for (PgRecord r : foreign) {
            adopt(s, r);
        }
        rememberPgs(s.name());
        return true;
    }

    /**
     * Tells the registry which pgs a storage holds, so they stay listed if it becomes unavailable, and
     * writes the owner's password file for the pgs there are now (blocking).
     */
    private void rememberPgs(String storage) throws IOException {
        storages.recordPgs(storage, computes.values().stream().filter(c -> c.record.storageName().equals(storage))
                .map(c -> c.record.name()).toList());
        publishPassFile();
    }

    /**
     * ZENITH_HOME/pgpass (0600): each pg's port with its storage's password, and the replication port
     * with the replication user's. The connection strings zenith hands out name this file, so the owner's
     * psql, pgbench and pg_basebackup log in without a password on any command line.
     */
    private void publishPassFile() throws IOException {
        List<PassFile.Login> logins = new ArrayList<>();
        computes.values().stream().sorted((x, y) -> Integer.compare(x.record.port(), y.record.port())).forEach(c ->
                storages.find(c.record.storageName()).flatMap(s -> ClusterPasswords.find(s.store()))
                        .ifPresent(pw -> logins.add(new PassFile.Login(c.record.port(), "postgres", pw))));
        logins.add(new PassFile.Login(config.pgPort(), config.replicationUser(), config.replicationPassword()));
        PassFile.write(config.passFile(), "Written by zenith: the passwords of its pgs (user postgres) and of its"
                + " replication port; libpq's format (PGPASSFILE, passfile=).", logins);
    }

    /** The names among {@code stored} that are already pgs of this daemon, sorted. */
    private List<String> namesTakenHere(List<PgRecord> stored) {
        return stored.stream().map(PgRecord::name).filter(computes::containsKey).sorted().toList();
    }

    /** A pg another daemon's record describes joins this one stopped, with a port and directory of ours (blocking). */
    private void adopt(StorageRegistry.Storage s, PgRecord r) throws IOException {
        Path pgdata = computesDir.resolve(r.name());
        try {
            deleteComputeDirectory(r.name(), pgdata); // a leftover of an earlier pg of that name here: never trusted
        } catch (ConflictException e) {
            LOG.severe(e.getMessage()); // kept; the pg's start and destroy refuse while it is so
        }
        PgRecord adopted = r.adoptedAs(s.name(), allocatePort(), pgdata, computesDir.resolve(r.name() + ".log"));
        Compute c = loaded(s.store(), adopted);
        save(s.store(), c, adopted);
        computes.put(adopted.name(), c);
        LOG.info("pg " + adopted.name() + " adopted with storage " + s.name() + " (stopped; port " + adopted.port() + ")");
    }

    /** Starts the pgs that should run but do not; one that cannot start is marked stopped (blocking). */
    private void restartWanted(Predicate<Compute> which) {
        for (Compute c : List.copyOf(computes.values())) {
            if (which.test(c) && c.record.wantRunning() && !c.running) {
                try {
                    LOG.info("pg " + c.record.name() + " was running before; starting it again");
                    start(c.record.name());
                } catch (Exception e) {
                    LOG.log(Level.WARNING, "pg " + c.record.name() + " could not be started again", e);
                    save(storages.get(c.record.storageName()).store(), c, c.record.withWantRunning(false));
                }
            }
        }
    }

    /**
     * Storages another daemon process held when this one started become usable as soon as it lets go,
     * with their pgs and snapshots, and the pgs that ran here before start again (management thread).
     */
    private void takeReleasedStorages() {
        for (StorageRegistry.Storage s : storages.openReleased()) {
            LOG.info("storage '" + s.name() + "' was released by the process that held it; it is in use here now");
            try {
                if (!takeIn(s)) {
                    continue; // its pg names are taken here: it is unavailable again
                }
                snapshots.load(s);
                storages.announceAttached(s);
                restartWanted(c -> c.record.storageName().equals(s.name()));
            } catch (IOException | RuntimeException e) {
                LOG.log(Level.SEVERE, "storage '" + s.name() + "' is attached, but taking in its pgs failed", e);
            }
        }
    }

    /**
     * Attaches a storage (blocking). One that was attached elsewhere may hold pgs: they join this daemon
     * stopped, with ports and data directories of their own here, rebuilt from the store at their first
     * start. When one of their names is taken here the storage is detached again and nothing changes.
     */
    public StorageRegistry.Storage attachStorage(String name, String type, String path, Duration pitr) throws IOException {
        StorageRegistry.Storage s = storages.attach(name, type, path, pitr);
        List<PgRecord> found;
        try {
            finishDestroysCutShort(s);
            found = storedPgs(s.store());
            List<String> taken = namesTakenHere(found);
            if (!taken.isEmpty()) {
                throw new ConflictException("storage at " + s.path() + " holds pg(s) " + taken
                        + " and this daemon has pgs of those names; destroy or rename ours first");
            }
        } catch (RuntimeException e) {
            storages.detach(name);
            throw e;
        }
        for (PgRecord r : found) {
            adopt(s, r);
        }
        rememberPgs(s.name());
        snapshots.load(s);
        storages.announceAttached(s);
        return s;
    }

    /** The pgs a storage holds (blocking). */
    private static List<PgRecord> storedPgs(Store store) {
        return store.documents().list(PgRecord.key("")).values().stream()
                .map(bytes -> PgRecord.fromJson(new JsonObject(new String(bytes, StandardCharsets.UTF_8)))).toList();
    }

    /** A stored pg as this daemon tracks it, stopped, knowing where its WAL ends (blocking). */
    private Compute loaded(Store store, PgRecord r) {
        Compute c = new Compute(r, new PostgresProcess(pg, r.pgdata(), r.logfile()));
        c.lastLsn = store.wal().end(TimelineId.parse(r.timelineId())).orElse(Lsn.INVALID);
        return c;
    }

    /** Detaches a storage no pg uses (blocking). */
    public void detachStorage(String name) throws IOException {
        checkStorageUnused(name);
        snapshots.forget(name);
        storages.detach(name);
    }

    public void checkStorageUnused(String storage) {
        List<String> users = computes.values().stream().filter(c -> c.record.storageName().equals(storage))
                .map(c -> c.record.name()).sorted().toList();
        if (!users.isEmpty()) {
            throw new ConflictException("storage '" + storage + "' is used by pg(s) " + users + "; destroy them first");
        }
    }

    /** A replica's (or stopped pg's) timeline grows through the receiver of the primary running there, if any. */
    private Optional<Lsn> timelineFlushed(PgRecord r) {
        for (Compute other : computes.values()) {
            WalReceiver rx = other.receiver;
            if (rx != null && rx.flushed().isValid() && other.record.sameTimelineAs(r)) {
                return Optional.of(rx.flushed());
            }
        }
        return Optional.empty();
    }

    private JsonObject toJson(Compute c) {
        PgRecord r = c.record;
        WalReceiver rx = c.receiver;
        Lsn last = rx != null && rx.flushed().isValid() ? rx.flushed() : timelineFlushed(r).orElse(c.lastLsn);
        return new JsonObject().put("name", r.name()).put("storage_name", r.storageName())
                .put("status", c.running ? "running" : "stopped")
                .put("role", r.readOnly() ? "read_only" : r.replica() ? "replica" : "primary")
                .put("replication_connstr", replicationConnstr(r, "passfile=" + PassFile.conninfoValue(config.passFile().toString())))
                .put("read_only", r.readOnly()).put("replica_of", r.replicaOf()).put("source", r.source()).put("port", r.port())
                .put("connstr", "postgresql://postgres@127.0.0.1:" + r.port() + "/postgres?passfile="
                        + PassFile.uriQueryValue(config.passFile()))
                .put("timeline_id", r.timelineId()).put("last_lsn", last.toString())
                .put("pgdata", r.pgdata().toString()).put("logfile", r.logfile().toString())
                .put("created_at", r.createdAt().toString())
                .put("wal_receiver", rx == null ? null : rx.stats());
    }

    // ---- operations (management thread) ----

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
        String name = req.name();
        if (computes.containsKey(name)) {
            throw new ConflictException("pg '" + name + "' already exists");
        }
        refuseIfOnUnavailableStorage(name); // its name stays taken
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
        Path pgdata = computesDir.resolve(name);
        Path logfile = computesDir.resolve(name + ".log");
        PostgresProcess process = new PostgresProcess(pg, pgdata, logfile);
        String storageName;
        TimelineId timeline;
        Lsn cleanDirLsn = null;
        String source = null;
        JsonObject branchInfo = null;
        if (leader != null) {
            storageName = leader.record.storageName();
            timeline = TimelineId.parse(leader.record.timelineId());
        } else if (req.branches()) {
            Branch b = branch(req.snapshot(), req.fromPg(), req.lsn(), req.time(), !req.readOnly());
            if (req.storageName() != null && !req.storageName().equals(b.storageName())) {
                throw new InvalidRequestException("the branch point is on storage '" + b.storageName() + "', not '"
                        + req.storageName() + "'");
            }
            storageName = b.storageName();
            timeline = b.timeline();
            source = b.source();
            branchInfo = b.point().toJson();
        } else {
            storageName = req.storageName() == null ? StorageRegistry.DEFAULT_STORAGE : req.storageName();
            Store store = storages.get(storageName).store();
            var main = ComputeDirectories.mainTimeline(store);
            if (main.isPresent()) {
                timeline = main.get();
            } else {
                deleteComputeDirectory(name, pgdata);
                LOG.info("storage " + storageName + " is empty: running initdb for pg " + name);
                Progress.current().phase("running initdb (the storage is empty)");
                timeline = directories.bootstrap(store, process);
                cleanDirLsn = store.wal().end(timeline).orElseThrow();
            }
        }
        Store store = storages.get(storageName).store();
        if (cleanDirLsn == null) {
            // Leftover of a destroyed pg or a crashed create: never trusted, always rebuilt.
            deleteComputeDirectory(name, pgdata);
        }
        PgRecord record = new PgRecord(name, storageName, timeline.toString(), allocatePort(), pgdata, logfile,
                Instant.now(), false, cleanDirLsn, req.readOnly(), source, leader != null,
                leader == null ? null : leader.record.name());
        Compute c = new Compute(record, process);
        c.lastLsn = store.wal().end(timeline).orElse(Lsn.INVALID);
        save(store, c, record);
        computes.put(name, c);
        rememberPgs(storageName);
        LOG.info("pg " + name + " created on storage " + storageName + ", timeline " + timeline
                + (source == null ? "" : ", branched from " + source)
                + (leader == null ? "" : ", a replica of pg " + leader.record.name()));
        JsonObject json;
        try {
            json = req.start() ? start(name) : toJson(c);
        } catch (DomainException e) {
            // The pg exists (a start can be retried once the cause is fixed); say so, not only that the start failed.
            throw e.reworded(createdBut(name, e));
        } catch (StartFailed e) {
            throw new StartFailed(createdBut(name, e), e.getCause());
        }
        return branchInfo == null ? json : json.put("branch", branchInfo);
    }

    private static String createdBut(String name, Exception e) {
        return "pg '" + name + "' was created (stopped), but: " + e.getMessage();
    }

    /**
     * The pg a new replica is to follow ({@code replica_of}): a primary of the same storage. A replica
     * follows its present, so no point may be given, and a replica or read-only node has no history of its
     * own to follow.
     */
    private Compute leaderFor(CreateRequest req) {
        if (req.branches() || req.lsn() != null || req.time() != null || req.readOnly()) {
            throw new InvalidRequestException("a replica follows its pg's present history: give 'replica_of' alone, without"
                    + " 'snapshot', 'from', 'lsn', 'time' or 'read_only'");
        }
        Compute leader = require(req.replicaOf());
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

    /**
     * A new timeline at a snapshot, or at a point (LSN, time, or now) of a pg's current timeline.
     * {@code ownPgTimeline}: a pg that will write there ends recovery on a PostgreSQL timeline of its own.
     */
    private record Branch(String storageName, TimelineId timeline, String source, HistoryPoint point) {
    }

    private Branch branch(String snapshotName, String fromPg, String lsn, String time, boolean ownPgTimeline) {
        String storageName;
        HistoryPoint point;
        Snapshot snapshot = null;
        String source;
        if (snapshotName != null) {
            snapshot = snapshots.get(snapshotName);
            storageName = snapshot.storageName();
            point = new HistoryPoint(snapshot.timeline(), snapshot.lsn(), snapshotName, null, snapshot.commitTime());
            source = snapshotName;
        } else {
            Compute from = require(fromPg);
            catchUp(from);
            storageName = from.record.storageName();
            point = HistoryPoints.resolve(storages.get(storageName).store(), TimelineId.parse(from.record.timelineId()),
                    lsn, time);
            source = fromPg + "@" + point.lsn();
        }
        Store store = storages.get(storageName).store();
        TimelineId branch = ownPgTimeline ? branchOnNewPgTimeline(store, point)
                : store.timelines().create(point.timeline(), point.lsn(), store.timelines().get(point.timeline()).orElseThrow().pgTimeline()).id();
        if (snapshot != null) {
            snapshots.recordBranch(store, branch, snapshot);
        }
        return new Branch(storageName, branch, source, point);
    }

    /**
     * A timeline whose compute ends recovery at {@code point} and selects a PostgreSQL timeline no other
     * history of the storage has, as PostgreSQL does at the end of archive recovery: its history file is
     * the one PostgreSQL will write, and the timeline begins where PostgreSQL's recovery ends (the point,
     * aligned as its reader aligns it). The bytes between the point and there (alignment padding, or the
     * rest of a segment after XLOG_SWITCH) are the new timeline's own, zeros as in the rebuilt directory.
     */
    private static TimelineId branchOnNewPgTimeline(Store store, HistoryPoint point) {
        Lsn switchPoint = HistoryPoints.pgEndOfWal(store, point.timeline(), point.lsn());
        int fromTli = PgTimelines.tliAt(store.pgTimelines().entries(point.timeline()), point.lsn().plus(-1));
        int tli = store.pgTimelines().allocate();
        TimelineId branch = store.timelines().create(point.timeline(), Lsn.min(point.lsn(), switchPoint), tli).id();
        if (switchPoint.isAfter(point.lsn())) {
            store.wal().append(List.of(new WalAppend(branch, point.lsn(), new byte[(int) switchPoint.minus(point.lsn())],
                    List.of(), List.of(), List.of(), switchPoint)));
        }
        store.pgTimelines().saveHistory(branch, store.pgTimelines().historyOfNewTimeline(point.timeline(), fromTli, switchPoint));
        return branch;
    }

    /**
     * {@code pg checkout}: the pg moves to a new branch at a snapshot, LSN or time (of its own history);
     * the state it leaves is kept as snapshot {@code NAME@HEAD{i}}, so checking that out returns there.
     */
    public JsonObject checkout(String name, String snapshotName, String lsn, String time) throws IOException {
        Compute c = require(name);
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
        Store store = storages.get(c.record.storageName()).store();
        TimelineId current = TimelineId.parse(c.record.timelineId());
        catchUp(c);
        // Resolve the target first: a bad point must change nothing.
        if (snapshotName != null && !snapshots.get(snapshotName).storageName().equals(c.record.storageName())) {
            throw new InvalidRequestException("snapshot '" + snapshotName + "' is on another storage");
        }
        if (snapshotName == null) {
            HistoryPoints.resolve(store, current, lsn, time);
        }
        boolean wasRunning = c.running;
        if (wasRunning) {
            stop(name);
        }
        String head = name + "@HEAD" + snapshots.nextHeadIndex(name);
        Progress.current().phase("keeping the state pg " + name + " leaves as snapshot " + head);
        snapshots.create(head, true, c.record.storageName(), HistoryPoints.now(store, current));
        Branch b = branch(snapshotName, snapshotName == null ? name : null, lsn, time, true);
        save(store, c, c.record.onTimeline(b.timeline().toString(), b.source()));
        vertx.eventBus().publish(PG_MOVED_ADDRESS, name); // streams following it by name switch timelines
        LOG.info("pg " + name + " checked out " + b.source() + " (timeline " + b.timeline() + "); left state kept as " + head);
        JsonObject json = start(name);
        return json.put("saved_as", head).put("branch", b.point().toJson()).put("replicas", moveFollowers(c));
    }

    /**
     * {@code pg promote}: a replica becomes the primary once its timeline's primary has stopped. It first
     * replays everything the store holds, then PostgreSQL promotes it onto a new PostgreSQL timeline; the
     * store gets a timeline branched at the switch point, with PostgreSQL's history file. It is stopped
     * once cleanly so the new timeline has an image of its own (crash recovery cannot cross a
     * promotion), then runs as the primary, its WAL flowing into the store.
     */
    public JsonObject promote(String name) throws IOException {
        Compute c = require(name);
        if (!c.running || !c.record.replica()) {
            throw new ConflictException("pg '" + name + "' is not a running replica");
        }
        for (Compute other : computes.values()) {
            if (other != c && other.running && isPrimary(other) && other.record.sameTimelineAs(c.record)) {
                throw new ConflictException("pg '" + other.record.name() + "' is still the primary of this timeline; stop it first");
            }
        }
        Store store = storages.get(c.record.storageName()).store();
        TimelineId tl = TimelineId.parse(c.record.timelineId());
        Lsn end = store.wal().lastRecordEnd(tl).orElseThrow();
        Lsn replayed = Lsn.INVALID;
        for (int i = 0; i < 600 && replayed.isBefore(end); i++) {
            replayed = Lsn.parse(sqlOf(c, store).queryValueBlocking("SELECT pg_last_wal_replay_lsn()::text", 60));
            if (replayed.isBefore(end)) {
                PostgresProcess.sleep(100);
            }
        }
        if (replayed.isBefore(end)) {
            throw new UnavailableException("replica '" + name + "' has replayed up to " + replayed + " of " + end
                    + "; try again when it has caught up");
        }
        // The new PostgreSQL timeline is one no other history of the storage has.
        Path walDir = c.record.pgdata().resolve("pg_wal");
        int newTimeline = store.pgTimelines().allocate();
        List<Path> taken = directories.markTimelinesTaken(walDir, store.timelines().get(tl).orElseThrow().pgTimeline(), newTimeline);
        c.process.promote(); // returns once recovery has ended: the new timeline's history file is written
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
        store.documents().put(PROMOTED_FROM_KEY + tl, new JsonObject().put("pg", name).put("timeline", promoted.toString())
                .put("lsn", switchPoint.toString()).encode().getBytes(StandardCharsets.UTF_8));
        save(store, c, c.record.onTimeline(promoted.toString(), name + "@" + switchPoint + " (promoted)").withReplica(false)
                .withReplicaOf(null));
        vertx.eventBus().publish(PG_MOVED_ADDRESS, name);
        LOG.info("pg " + name + " promoted: PostgreSQL timeline " + newTimeline + " from " + switchPoint
                + ", store timeline " + promoted);
        // A clean stop with a receiver attached gives the new timeline its WAL and its first image:
        // the receiver must stream before the stop, or the shutdown checkpoint never reaches the store.
        startReceiver(c, store, ClusterPasswords.find(store).orElse(null));
        try {
            if (!c.receiver.awaitStreaming(60_000)) {
                throw new IOException("the WAL receiver did not connect to promoted pg '" + name + "' within a minute");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted");
        }
        save(store, c, c.record.withWantRunning(false));
        stopCompute(c, store);
        return start(name, false).put("promoted_at", switchPoint.toString()).put("pg_timeline", newTimeline);
    }

    // ---- snapshots ----

    /**
     * Blocks until the store's readable WAL holds every commit the pg's receiver acknowledged (LMDB
     * trails the WAL journal by a batch), so "now", an LSN check or a time sees what clients saw commit.
     */
    private void catchUp(Compute c) {
        WalReceiver rx = c.receiver;
        if (rx == null) {
            return;
        }
        try {
            if (!rx.awaitIndexed(30_000)) {
                throw new UnavailableException("the store is still catching up with pg '" + c.record.name()
                        + "'s WAL; try again");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new UnavailableException("interrupted");
        }
    }

    public JsonObject createSnapshot(String fullName, String lsn, String time) {
        String[] parts = SnapshotCatalog.parseName(fullName, false);
        Compute c = require(parts[0]);
        catchUp(c);
        Store store = storages.get(c.record.storageName()).store();
        HistoryPoint p = HistoryPoints.resolve(store, TimelineId.parse(c.record.timelineId()), lsn, time);
        JsonObject json = snapshots.create(fullName, false, c.record.storageName(), p).toJson();
        return p.note() == null ? json : json.put("note", p.note());
    }

    public JsonObject destroySnapshot(String fullName) {
        Snapshot s = snapshots.get(fullName);
        Map<TimelineId, List<String>> inUse = computes.values().stream()
                .filter(c -> c.record.storageName().equals(s.storageName()))
                .collect(java.util.stream.Collectors.groupingBy(c -> TimelineId.parse(c.record.timelineId()),
                        java.util.stream.Collectors.mapping(c -> c.record.name(), java.util.stream.Collectors.toList())));
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

    /**
     * Frees history nothing keeps: every point within the storage's PITR window (or {@code pitrOverride}),
     * every snapshot, every branch point and every timeline's end stay readable.
     */
    public JsonObject collectGarbage(String storageName, java.time.Duration pitrOverride) {
        StorageRegistry.Storage storage = storages.get(storageName);
        java.time.Duration pitr = pitrOverride != null ? pitrOverride : storage.pitr();
        Progress.current().phase("collecting garbage on storage " + storageName);
        var stats = storage.store().garbage().collect(retainedPoints(storage, pitr, null));
        LOG.info("garbage collection on storage " + storageName + " (PITR window " + pitr + "): " + stats);
        return new JsonObject().put("storage_name", storageName).put("pitr_seconds", pitr.getSeconds())
                .put("wal_bytes_freed", stats.walBytesFreed()).put("images_freed", stats.imagesFreed())
                .put("page_versions_freed", stats.pageVersionsFreed()).put("page_bytes_freed", stats.pageBytesFreed())
                .put("index_entries_freed", stats.indexEntriesFreed())
                .put("timelines_freed", stats.timelinesFreed().size()).put("blobs_freed", stats.blobsFreed());
    }

    /**
     * Per timeline in use, the points that must stay readable: the PITR window's start and the snapshots.
     * In use: the storage's root, every pg's timeline, and those of snapshots, replication slots and open
     * replication connections. A branch whose pg was destroyed is none of these: it no longer pins its
     * parent's history, and garbage collection deletes it.
     */
    private Map<TimelineId, List<Lsn>> retainedPoints(StorageRegistry.Storage storage, java.time.Duration pitr,
                                                      String exceptSnapshot) {
        Store store = storage.store();
        Instant cutoff = Instant.now().minus(pitr);
        Map<TimelineId, List<Lsn>> retained = new java.util.HashMap<>();
        java.util.Set<TimelineId> pgTimelines = new java.util.HashSet<>();
        computes.values().stream().filter(c -> c.record.storageName().equals(storage.name()))
                .forEach(c -> pgTimelines.add(TimelineId.parse(c.record.timelineId())));
        for (var t : store.timelines().all()) {
            if (!t.isRoot() && !pgTimelines.contains(t.id())) {
                continue; // no pg runs here; snapshots and slots below name it if they need it
            }
            retained.computeIfAbsent(t.id(), k -> new ArrayList<>()); // in use, even with no point to add
            // The window starts at the last commit before its cutoff; with none, it reaches back to the
            // oldest image (a point just past its checkpoint record's start, which that image serves).
            Lsn windowStart = store.changes().lastCommitAtOrBefore(t.id(), cutoff).map(c -> c.recordLsn())
                    .or(() -> store.images().retentionHorizon(t.id()).map(h -> h.plus(1))).orElse(null);
            if (windowStart != null) {
                retained.computeIfAbsent(t.id(), k -> new ArrayList<>()).add(windowStart);
            }
        }
        for (Snapshot s : snapshots.list()) {
            if (s.storageName().equals(storage.name()) && !s.fullName().equals(exceptSnapshot)) {
                retained.computeIfAbsent(s.timeline(), k -> new ArrayList<>()).add(s.lsn());
            }
        }
        // A permanent replication slot's client resumes from its restart LSN: that WAL stays.
        ReplicationSlots.restartLsns(store).forEach((tl, lsns) -> retained.computeIfAbsent(tl, k -> new ArrayList<>())
                .addAll(lsns));
        followed.of(store).forEach(tl -> retained.computeIfAbsent(tl, k -> new ArrayList<>()));
        return retained;
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
        JsonArray out = new JsonArray();
        Map<String, Long[]> baseline = new java.util.HashMap<>();
        for (Snapshot s : snapshots.list()) {
            if (!which.test(s)) {
                continue;
            }
            if (!sizes) {
                out.add(s.toJson().put("parent", snapshots.parentOf(s).map(Snapshot::fullName).orElse(null)));
                continue;
            }
            StorageRegistry.Storage storage = storages.get(s.storageName());
            Long[] base = baseline.computeIfAbsent(s.storageName(), k -> {
                var g = storage.store().garbage().ifCollected(retainedPoints(storage, storage.pitr(), null));
                return new Long[] {g.walBytesFreed(), g.pageBytesFreed()};
            });
            var without = storage.store().garbage().ifCollected(retainedPoints(storage, storage.pitr(), s.fullName()));
            long wal = Math.max(0, without.walBytesFreed() - base[0]);
            long pages = Math.max(0, without.pageBytesFreed() - base[1]);
            out.add(s.toJson().put("parent", snapshots.parentOf(s).map(Snapshot::fullName).orElse(null))
                    .put("retains_wal_bytes", wal).put("retains_page_bytes", pages).put("retains_bytes", wal + pages));
        }
        return out;
    }

    /** A pg's history, newest first (see {@link PgLog}); blocking. */
    public JsonObject log(String name, Instant since, Instant until, int limit) {
        Compute c = require(name);
        catchUp(c);
        String storage = c.record.storageName();
        Map<String, TimelineId> pgTimelines = new java.util.HashMap<>();
        computes.values().stream().filter(o -> o.record.storageName().equals(storage))
                .forEach(o -> pgTimelines.put(o.record.name(), TimelineId.parse(o.record.timelineId())));
        List<Snapshot> ofStorage = snapshots.list().stream().filter(sn -> sn.storageName().equals(storage)).toList();
        return PgLog.of(new PgLog.Subject(name, TimelineId.parse(c.record.timelineId()), storages.get(storage).store(),
                ofStorage, pgTimelines), since, until, limit);
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

    public SnapshotCatalog snapshots() {
        return snapshots;
    }

    @Override
    public FollowedTimelines followedTimelines() {
        return followed;
    }

    /** Starts a pg as it last ran: primary, replica or read-only node. */
    public JsonObject start(String name) throws IOException {
        return start(name, require(name).record.replica());
    }

    /**
     * Starts a pg. As a primary it owns its timeline (one per timeline) and its WAL flows into the store;
     * as a replica it is a hot standby of its timeline, streaming from our replication port, rebuilt
     * from the store at every start; several may run per timeline.
     */
    public JsonObject start(String name, boolean asReplica) throws IOException {
        return start(name, asReplica, false);
    }

    /**
     * {@code force}: a primary whose history a promotion superseded (another pg was promoted from it)
     * starts anyway, forking: it moves to a branch of its own at its end, on a PostgreSQL timeline of its
     * own. Without it that start is refused, so two primaries never run the same history.
     */
    public JsonObject start(String name, boolean asReplica, boolean force) throws IOException {
        Compute c = require(name);
        if (c.running) {
            throw new ConflictException("pg '" + name + "' is already running");
        }
        if (c.record.replicaOf() != null) {
            followLeader(c, asReplica);
        }
        boolean forked = false;
        if (!asReplica && !c.record.readOnly()) {
            Store store = storages.get(c.record.storageName()).store();
            Optional<JsonObject> promotion = store.documents().get(PROMOTED_FROM_KEY + c.record.timelineId())
                    .map(b -> new JsonObject(new String(b, StandardCharsets.UTF_8)));
            if (promotion.isPresent() && !force) {
                String promoted = promotion.get().getString("pg");
                throw new ConflictException("pg '" + promoted + "' was promoted from the history pg '" + name + "' is on (at "
                        + promotion.get().getString("lsn") + "); started as a primary, '" + name + "' would write a second"
                        + " version of that history. Follow the promoted pg with a new one (pg create NEW "
                        + promoted + "), start '" + name + "' as a replica of the old history (--replica), or start it"
                        + " with --force (REST: \"force\": true), which forks it onto a branch of its own at its end");
            }
            if (promotion.isPresent()) {
                forked = true;
                Branch b = branch(null, name, null, null, true);
                save(store, c, c.record.onTimeline(b.timeline().toString(), name + "@" + b.point().lsn() + " (forked)"));
                vertx.eventBus().publish(PG_MOVED_ADDRESS, name);
                LOG.info("pg " + name + " forked onto timeline " + b.timeline() + " at " + b.point().lsn()
                        + ": pg '" + promotion.get().getString("pg") + "' was promoted from its history");
            }
        }
        if (asReplica && c.record.readOnly()) {
            throw new InvalidRequestException("pg '" + name + "' is read-only; it cannot be a replica");
        }
        for (Compute other : computes.values()) {
            if (!asReplica && !c.record.readOnly() && other != c && other.running && isPrimary(other)
                    && other.record.sameTimelineAs(c.record)) {
                throw new ConflictException("pg '" + other.record.name() + "' is already running as the primary of the"
                        + " history pg '" + name + "' is on; stop it first (pg stop " + other.record.name()
                        + "), or start '" + name + "' as a replica (--replica)");
            }
        }
        if (!ComputePorts.bindable(c.record.port())) {
            // Its port is part of its connstr, so it is not moved; PostgreSQL would only fail later, less clearly.
            throw new ConflictException("port " + c.record.port() + " of pg '" + name + "' is in use by another program;"
                    + " free it and start the pg again");
        }
        Store store = storages.get(c.record.storageName()).store();
        refuseIfHoldsStorage(name, c.record.pgdata()); // a rebuild deletes the directory
        TimelineId tl = TimelineId.parse(c.record.timelineId());
        // A storage made before computes had passwords: its first primary start gives role postgres one.
        NewPassword passwordless = ClusterPasswords.find(store).isEmpty() && !asReplica && !c.record.readOnly()
                ? new NewPassword(Secrets.generate(), null) : null;
        boolean reuse = !asReplica && c.record.cleanDirLsn() != null
                && store.wal().end(tl).map(c.record.cleanDirLsn()::equals).orElse(false)
                && Files.exists(c.record.pgdata().resolve("global/pg_control"));
        // From here on the directory is not a clean copy: a crash mid-start means a rebuild next time.
        save(store, c, c.record.withCleanDirLsn(null).withWantRunning(true).withReplica(asReplica));
        Optional<ComputeDirectories.NewTimeline> newTimeline = Optional.empty();
        Lsn target = null; // where a rebuilt directory's replay must get to
        try {
            if (reuse) {
                LOG.info("pg " + name + ": restarting its cleanly stopped data directory as is");
            } else {
                LOG.info("pg " + name + ": building its data directory from the store");
                target = store.wal().lastRecordEnd(tl).orElse(null);
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
                LOG.info("pg " + name + ": storage " + c.record.storageName() + " was made before computes had"
                        + " passwords; giving its role postgres one");
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
                        requireReplayedTo(c, target, ComputeDirectories.newTimelineSwitchPoint(c.process, newTimeline.get()));
                    }
                    directories.finishNewTimeline(store, tl, c.process, newTimeline.get());
                } catch (IOException | RuntimeException e) {
                    c.process.stop(); // it may have written WAL the store does not take: rebuilt next time
                    throw e;
                }
                LOG.info("pg " + name + " began PostgreSQL timeline " + newTimeline.get().tli());
            } else if (target != null) {
                requireReplayedTo(c, target, replayed(c, store, target));
            }
        } catch (IOException | RuntimeException e) {
            save(store, c, c.record.withWantRunning(false));
            if (target != null && c.process.runningPid().isPresent()) {
                stopUnaccepted(c); // it started, but not as the store says it must
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
        if (isPrimary(c)) {
            startReceiver(c, store, passwordless != null ? passwordless.password() : ClusterPasswords.find(store).orElse(null));
        }
        if (passwordless != null) {
            keepPassword(c, store, passwordless);
        }
        LOG.info("pg " + name + " running on port " + c.record.port());
        JsonObject json = toJson(c);
        return forked ? json.put("replicas", moveFollowers(c)) : json;
    }

    /**
     * {@code is_replica} as a REST client gives it, or not ({@code null}): then a replica of a pg starts as
     * one again, any other pg as a primary.
     */
    public JsonObject start(String name, Boolean asReplica, boolean force) throws IOException {
        return start(name, asReplica != null ? asReplica : require(name).record.replicaOf() != null, force);
    }

    /**
     * A replica of a pg starts on that pg's present history, wherever checkouts took it meanwhile; started
     * as a primary it would write a history of its own under the other pg's name, so that is refused.
     */
    private void followLeader(Compute c, boolean asReplica) {
        String leaderName = c.record.replicaOf();
        if (!asReplica) {
            throw new ConflictException("pg '" + c.record.name() + "' is a replica of pg '" + leaderName + "'; it starts"
                    + " as one (pg start " + c.record.name() + "). To make it a primary, promote it while it runs"
                    + " (pg promote " + c.record.name() + ") once '" + leaderName + "' has stopped");
        }
        Compute leader = computes.get(leaderName);
        if (leader != null && !leader.record.sameTimelineAs(c.record)) {
            save(storages.get(c.record.storageName()).store(), c, c.record.onTimeline(leader.record.timelineId(), null));
        }
    }

    /**
     * After {@code leader} moved to another history (a checkout, a forked start): the replicas that follow it
     * move there too. A running one whose PostgreSQL can get there by itself (the new history leaves the
     * standby's PostgreSQL timeline at or after everything it may have replayed) follows as a standby follows
     * its primary's promotion, by the walsender's end of timeline; any other running one is rebuilt from the
     * store at the new history and started again, since PostgreSQL cannot go back in its own history.
     * Answers what became of each (blocking; management thread).
     */
    private JsonArray moveFollowers(Compute leader) {
        JsonArray moved = new JsonArray();
        TimelineId to = TimelineId.parse(leader.record.timelineId());
        for (Compute f : List.copyOf(computes.values())) {
            if (!leader.record.name().equals(f.record.replicaOf()) || f.record.sameTimelineAs(leader.record)) {
                continue;
            }
            String name = f.record.name();
            Store store = storages.get(f.record.storageName()).store();
            TimelineId from = TimelineId.parse(f.record.timelineId());
            boolean wasRunning = f.running;
            String how;
            if (!wasRunning) {
                save(store, f, f.record.onTimeline(to.toString(), null));
                how = "moved (stopped)";
            } else if (store.pgTimelines().standbyCanFollow(from, to)) {
                save(store, f, f.record.onTimeline(to.toString(), null));
                how = "followed";
            } else {
                Progress.current().phase("rebuilding replica " + name + " at pg " + leader.record.name() + "'s new history");
                try {
                    stopCompute(f, store);
                    save(store, f, f.record.onTimeline(to.toString(), null));
                    start(name, true);
                    how = "rebuilt";
                } catch (IOException | RuntimeException e) {
                    LOG.log(Level.WARNING, "replica " + name + " of pg " + leader.record.name() + " could not be rebuilt at"
                            + " its new history; it stays stopped", e);
                    save(store, f, f.record.onTimeline(to.toString(), null).withWantRunning(false));
                    how = "stopped: " + (e.getMessage() == null ? e.toString() : e.getMessage());
                }
            }
            LOG.info("replica " + name + " of pg " + leader.record.name() + " on timeline " + to + ": " + how);
            moved.add(new JsonObject().put("name", name).put("how", how));
        }
        return moved;
    }

    /** PostgreSQL did not start (the pg stays stopped); the message says why. */
    private static final class StartFailed extends IOException {
        StartFailed(String message, Throwable cause) {
            super(message, cause);
        }
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
            LOG.warning("pg " + c.record.name() + ": its new password did not reach the store; it gets another at its next start");
            return;
        }
        ClusterPasswords.keep(store, p.password());
        publishPassFile();
    }

    /**
     * A rebuilt compute is only started once PostgreSQL has replayed the store's WAL up to {@code target}:
     * recovery that stops early (WAL it cannot read) would otherwise open a primary at an older state and
     * let it write over the history, or leave a standby behind for good. One that stops short is stopped
     * again, and its directory is rebuilt at its next start; its receiver never started, so nothing it
     * wrote reached the store.
     */
    private void requireReplayedTo(Compute c, Lsn target, Lsn replayed) throws StartFailed {
        PgRecord r = c.record;
        if (replayed.isBefore(target)) {
            String log = c.process.logTail(30).lines().filter(l -> l.contains("redo") || l.contains("record")
                    || l.contains("WAL") || l.contains("checksum")).reduce((a, b) -> a + "\n" + b).orElse("");
            throw new StartFailed("pg '" + r.name() + "' replayed the store's WAL only up to " + replayed
                    + ", not to " + target + " (timeline " + r.timelineId() + " on storage '" + r.storageName()
                    + "'): PostgreSQL could not read the WAL after that; it was stopped and nothing it wrote was kept."
                    + (log.isEmpty() ? "" : " Its log:\n" + log), null);
        }
    }

    /** Where a rebuilt compute that stays on its timeline stopped replaying (a standby: once it reached {@code target}). */
    private Lsn replayed(Compute c, Store store, Lsn target) throws IOException {
        PgRecord r = c.record;
        return r.readOnly() || r.replica() ? replayedAsStandby(sqlOf(c, store), target) : ComputeDirectories.recoveryEnd(c.process);
    }

    /** Stops a compute that started but failed its checks; its next start rebuilds its directory. */
    private static void stopUnaccepted(Compute c) {
        c.stopping = true;
        try {
            c.process.stop();
            closeSql(c);
        } catch (IOException e) {
            LOG.log(Level.WARNING, "pg " + c.record.name() + " could not be stopped after a failed start", e);
        } finally {
            c.stopping = false;
        }
    }

    /**
     * A standby's replay position once it has reached {@code target}, or where it stopped: it is given
     * time as long as it makes progress (a replica replays the WAL it was built with after it opens).
     */
    private static Lsn replayedAsStandby(ComputeSql sql, Lsn target) throws IOException {
        Lsn replayed = Lsn.INVALID;
        long lastProgress = System.nanoTime();
        while (true) {
            String value = sql.queryValueBlocking("SELECT pg_last_wal_replay_lsn()::text", 60);
            Lsn now = value == null || value.isEmpty() ? Lsn.INVALID : Lsn.parse(value);
            if (!now.isBefore(target)) {
                return now;
            }
            if (now.isAfter(replayed)) {
                replayed = now;
                lastProgress = System.nanoTime();
            } else if (System.nanoTime() - lastProgress > TimeUnit.SECONDS.toNanos(STANDBY_STALL_SECONDS)) {
                return replayed;
            }
            PostgresProcess.sleep(100);
        }
    }

    /** How long a standby's replay may stand still short of its target before its start counts as failed. */
    private static final long STANDBY_STALL_SECONDS = 30;

    public JsonObject stop(String name) throws IOException {
        Compute c = require(name);
        if (!c.running) {
            throw new ConflictException("pg '" + name + "' is not running");
        }
        Store store = storages.get(c.record.storageName()).store();
        save(store, c, c.record.withWantRunning(false));
        stopCompute(c, store);
        return toJson(c);
    }

    /** Fast shutdown; the receiver drains the last WAL; the stopped directory becomes the newest image. */
    private void stopCompute(Compute c, Store store) throws IOException {
        TimelineId tl = TimelineId.parse(c.record.timelineId());
        c.stopping = true;
        try {
            Progress.current().phase("stopping PostgreSQL of pg " + c.record.name());
            c.process.stop();
            closeSql(c);
            WalReceiver rx = c.receiver;
            if (rx != null) {
                await(rx.stop(), 120);
                c.receiver = null;
            }
            c.running = false;
        } finally {
            c.stopping = false;
        }
        c.lastLsn = store.wal().end(tl).orElse(Lsn.INVALID);
        if (c.record.readOnly()) {
            // Nothing new to keep: it only replayed the store's WAL, and may restart as is.
            save(store, c, c.record.withCleanDirLsn(c.lastLsn));
            return;
        }
        if (c.record.replica()) {
            return; // a standby's directory is rebuilt from the store at its next start
        }
        try {
            Progress.current().phase("keeping the stopped directory as an image");
            Lsn clean = directories.refreshImage(store, tl, c.process);
            save(store, c, c.record.withCleanDirLsn(clean));
        } catch (IOException | RuntimeException e) {
            LOG.log(Level.WARNING, "pg " + c.record.name() + ": could not take an image after stop; the next start"
                    + " rebuilds from the store", e);
        }
    }

    /**
     * Destroys a pg: its compute stopped, its record, directory and log deleted. The intent is written
     * first, so a destroy cut short (the daemon killed) is finished at the next start instead of leaving a
     * directory, a log or a running postmaster behind.
     */
    public JsonObject destroy(String name) throws IOException {
        Compute c = require(name);
        Store store = storages.get(c.record.storageName()).store();
        refuseIfHoldsStorage(name, c.record.pgdata());
        LOG.info("pg " + name + ": destroying");
        store.documents().put(DESTROYING + name, c.record.toJson().encode().getBytes(StandardCharsets.UTF_8));
        if (c.running) {
            c.stopping = true;
            c.process.stop();
            closeSql(c);
            WalReceiver rx = c.receiver;
            if (rx != null) {
                await(rx.stop(), 120);
            }
            c.running = false;
        }
        JsonObject json = toJson(c);
        store.documents().delete(PgRecord.key(name));
        computes.remove(name);
        for (Compute f : computes.values()) {
            if (name.equals(f.record.replicaOf())) {
                // Its history stays: the replica goes on as a replica of that timeline.
                save(store, f, f.record.withReplicaOf(null));
                LOG.info("pg " + f.record.name() + " followed destroyed pg " + name + "; it stays a replica of its timeline");
            }
        }
        rememberPgs(c.record.storageName());
        finishDestroy(store, c.record);
        return json.put("status", "destroyed");
    }

    /** Where a destroy under way keeps the pg's record until everything of it is gone (see {@link #destroy}). */
    private static final String DESTROYING = "destroying/";

    /**
     * The end of a destroy, once the pg's record is gone: its journal's WAL into LMDB, its directory and
     * log deleted when they are this daemon's (computesDir/NAME: ones we created), then the intent.
     */
    private void finishDestroy(Store store, PgRecord r) throws IOException {
        boolean timelineStillStreams = computes.values().stream().anyMatch(o -> o.receiver != null
                && o.record.sameTimelineAs(r));
        if (!timelineStillStreams) {
            // Its journal's WAL into LMDB, and its file (16 MiB) and descriptor let go of.
            store.journals().replay(TimelineId.parse(r.timelineId()));
        }
        if (r.pgdata().equals(computesDir.resolve(r.name()))) {
            deleteComputeDirectory(r.name(), r.pgdata());
            Files.deleteIfExists(r.logfile());
        }
        store.documents().delete(DESTROYING + r.name());
    }

    /** At start: the destroys a storage says were cut short are finished first (blocking). */
    private void finishDestroysCutShort(StorageRegistry.Storage s) throws IOException {
        for (byte[] doc : s.store().documents().list(DESTROYING).values()) {
            PgRecord r = PgRecord.fromJson(new JsonObject(new String(doc, StandardCharsets.UTF_8)));
            LOG.warning("pg " + r.name() + " was being destroyed when the daemon stopped; finishing that");
            try {
                Optional<PgRecord> now = s.store().documents().get(PgRecord.key(r.name()))
                        .map(b -> PgRecord.fromJson(new JsonObject(new String(b, StandardCharsets.UTF_8))));
                if (now.isPresent() && !now.get().createdAt().equals(r.createdAt())) {
                    s.store().documents().delete(DESTROYING + r.name()); // a new pg of that name since: not this one's
                    continue;
                }
                if (r.pgdata().equals(computesDir.resolve(r.name()))) {
                    new PostgresProcess(pg, r.pgdata(), r.logfile()).stop(); // it may still run
                }
                s.store().documents().delete(PgRecord.key(r.name()));
                finishDestroy(s.store(), r);
            } catch (IOException | RuntimeException e) { // the intent stays: tried again at the next start
                LOG.log(Level.SEVERE, "could not finish destroying pg " + r.name(), e);
            }
        }
    }

    /** Deletes a compute's directory (computesDir/NAME, ours), never one a storage lives in (blocking). */
    private void deleteComputeDirectory(String pgName, Path pgdata) throws IOException {
        refuseIfHoldsStorage(pgName, pgdata);
        FileTrees.delete(pgdata);
    }

    /** Zenith did not create a storage inside a compute's directory, so it deletes neither (blocking). */
    private void refuseIfHoldsStorage(String pgName, Path pgdata) throws IOException {
        Optional<String> storage = storages.storageWithin(pgdata);
        if (storage.isPresent()) {
            throw new ConflictException("the data directory " + pgdata + " of pg '" + pgName + "' holds storage '"
                    + storage.get() + "', which zenith would delete with it; detach that storage (its files stay) and"
                    + " move it elsewhere first");
        }
    }

    /**
     * At daemon shutdown (on a plain thread): every running compute is stopped cleanly, its WAL drained
     * into the store. Their records keep wantRunning, so the next daemon start says they were running.
     */
    public void stopAllBlocking() {
        for (Compute c : computes.values()) {
            if (c.running) {
                try {
                    stopCompute(c, storages.get(c.record.storageName()).store());
                } catch (Exception e) {
                    LOG.log(Level.WARNING, "stopping pg " + c.record.name() + " failed", e);
                }
            }
        }
    }

    /**
     * After {@link #stopAllBlocking}: no periodic work starts any more, and what was queued on the
     * management thread has finished, so the stores can be closed under nobody's feet.
     */
    public void close() {
        timers.forEach(vertx::cancelTimer);
        try {
            management.executeBlocking(() -> null, true).toCompletionStage().toCompletableFuture()
                    .get(5, TimeUnit.MINUTES);
        } catch (Exception e) {
            LOG.log(Level.WARNING, "management work did not drain before shutdown", e);
        }
    }

    // ---- internals ----

    /** {@code password}: role postgres's, null for a storage made before computes had one (trust). */
    private void startReceiver(Compute c, Store store, String password) {
        WalReceiver rx = new WalReceiver(vertx, store, TimelineId.parse(c.record.timelineId()), "127.0.0.1",
                c.record.port(), password, RECEIVER_NAME, SLOT_NAME, config, () -> c.process.runningPid().isPresent());
        c.receiver = rx;
        rx.start();
    }

    /**
     * Notices computes that died (kill -9, OOM): they are marked stopped and rebuilt at their next start.
     * The bookkeeping runs on the management thread, like every other state change.
     */
    private void watchComputes() {
        for (Compute c : computes.values()) {
            if (!c.running || c.stopping) {
                continue;
            }
            management.executeBlocking(() -> {
                if (!c.running || c.stopping || c.process.runningPid().isPresent()) {
                    return null;
                }
                LOG.warning("pg " + c.record.name() + " died; it will be rebuilt from the store at its next start");
                c.running = false;
                closeSql(c);
                WalReceiver rx = c.receiver;
                c.receiver = null;
                if (rx != null) {
                    await(rx.stop(), 120);
                }
                Store store = storages.get(c.record.storageName()).store();
                save(store, c, c.record.withWantRunning(false).withCleanDirLsn(null));
                c.lastLsn = store.wal().end(TimelineId.parse(c.record.timelineId())).orElse(Lsn.INVALID);
                return null;
            }, true);
        }
    }

    /** The compute's SQL connection (SCRAM with its storage's password), made at the first question. */
    private ComputeSql sqlOf(Compute c, Store store) {
        ComputeSql sql = c.sql;
        if (sql == null) {
            sql = new ComputeSql(vertx, c.record.name(), c.record.port(), ClusterPasswords.find(store).orElse(null));
            c.sql = sql;
        }
        return sql;
    }

    private static void closeSql(Compute c) {
        ComputeSql sql = c.sql;
        c.sql = null;
        if (sql != null) {
            sql.close();
        }
    }

    private static boolean isPrimary(Compute c) {
        return !c.record.readOnly() && !c.record.replica();
    }

    /**
     * How PostgreSQL's own tools stream or back up this pg's timeline from our replication port
     * (pg_receivewal -d, pg_basebackup -d, a standby's primary_conninfo); {@code credential} is
     * {@code passfile=...} (the owner's tools) or {@code password=...} (a replica compute's).
     */
    private String replicationConnstr(PgRecord r, String credential) {
        // A replica of a pg follows that pg by name, so its stream goes on across the pg's checkouts.
        String which = r.replicaOf() != null ? "zenith.pg=" + r.replicaOf() : "zenith.timeline=" + r.timelineId();
        return "host=" + config.pgHost() + " port=" + config.pgPort() + " user=" + config.replicationUser()
                + " " + credential + " options='-c " + which + "'";
    }

    private int allocatePort() throws IOException {
        return ports.allocate(p -> computes.values().stream().anyMatch(c -> c.record.port() == p));
    }

    private static void save(Store store, Compute c, PgRecord r) {
        store.documents().put(PgRecord.key(r.name()), r.toJson().encode().getBytes(StandardCharsets.UTF_8));
        c.record = r;
    }

    private static <T> T await(Future<T> f, int seconds) throws IOException {
        try {
            return f.toCompletionStage().toCompletableFuture().get(seconds, TimeUnit.SECONDS);
        } catch (Exception e) {
            throw new IOException(e.getMessage(), e);
        }
    }
}
