package dev.zenith.server.compute;

import dev.zenith.pgexec.FileTrees;
import dev.zenith.pgexec.PgInstallation;
import dev.zenith.pgexec.PrivateFiles;
import dev.zenith.server.config.ZenithConfig;
import dev.zenith.server.domain.ConflictException;
import dev.zenith.server.domain.NotFoundException;
import dev.zenith.server.ingest.WalReceiver;
import dev.zenith.server.security.PassFile;
import dev.zenith.server.storages.StorageRegistry;
import dev.zenith.storage.Store;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.wal.Lsn;
import io.vertx.core.json.JsonObject;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.logging.Logger;

/**
 * The daemon's pgs by name, and where each one's record persists (its storage's metadata, {@code pg/NAME}):
 * lookups, saves, ports, the owner's password file, and the directories of computes (computesDir/NAME).
 * Lookups are safe on any thread; changes run under the management lock.
 */
final class PgRegistry {
    private static final Logger LOG = Logger.getLogger(PgRegistry.class.getName());
    private final ZenithConfig config;
    private final PgInstallation pg;
    private final StorageRegistry storages;
    private final Path computesDir;
    private final ComputePorts ports;
    private final Map<String, Compute> computes = new ConcurrentHashMap<>();
    /** The pass file as last written: each pg port's password. */
    private volatile Map<Integer, String> named = Map.of();

    PgRegistry(ZenithConfig config, PgInstallation pg, StorageRegistry storages, Path computesDir) {
        this.config = config;
        this.pg = pg;
        this.storages = storages;
        this.computesDir = computesDir;
        this.ports = new ComputePorts(config.computeFirstPort());
    }

    /**
     * The directory of the compute data directories: 0700, other users kept out. When we are root,
     * PostgreSQL runs as an unprivileged user who must reach its data directories: it (and no one else)
     * may pass through this directory, and through ZENITH_HOME when it is inside. When that user cannot
     * reach the configured place, computes live under /var/tmp instead (they are caches: the store holds
     * the data), and the log says so.
     */
    static Path prepareComputesDir(ZenithConfig config, PgInstallation pg) throws IOException {
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

    Path computesDir() {
        return computesDir;
    }

    Optional<Compute> find(String name) {
        return Optional.ofNullable(computes.get(name));
    }

    boolean exists(String name) {
        return computes.containsKey(name);
    }

    Compute require(String name) {
        Compute c = computes.get(name);
        if (c == null) {
            refuseIfOnUnavailableStorage(name);
            throw new NotFoundException("pg '" + name + "' not found");
        }
        return c;
    }

    /** A pg of a storage that is unavailable now: known by name, unusable (409). */
    void refuseIfOnUnavailableStorage(String name) {
        storages.unavailableHolding(name).ifPresent(u -> {
            throw new ConflictException("pg '" + name + "' is on storage '" + u.name()
                    + "', which is unavailable: " + u.error());
        });
    }

    Collection<Compute> all() {
        return computes.values();
    }

    List<Compute> sortedByName() {
        return computes.values().stream().sorted(Comparator.comparing(Compute::name)).toList();
    }

    List<Compute> onStorage(String storage) {
        return computes.values().stream().filter(c -> c.record.storageName().equals(storage)).toList();
    }

    void add(Compute c) {
        computes.put(c.name(), c);
    }

    void remove(String name) {
        computes.remove(name);
    }

    /** Drops the pgs of a storage that turned out unusable while being taken in. */
    void forgetStorage(String storage) {
        computes.values().removeIf(c -> c.record.storageName().equals(storage));
    }

    Store storeOf(PgRecord r) {
        return storages.get(r.storageName()).store();
    }

    /** Persists {@code r} as the compute's record (blocking). */
    static void save(Store store, Compute c, PgRecord r) {
        store.documents().put(PgRecord.key(r.name()), r.toJson().encode().getBytes(StandardCharsets.UTF_8));
        c.record = r;
    }

    /** The pgs a storage holds (blocking). */
    static List<PgRecord> storedPgs(Store store) {
        return store.documents().list(PgRecord.key("")).values().stream()
                .map(bytes -> PgRecord.fromJson(new JsonObject(new String(bytes, StandardCharsets.UTF_8)))).toList();
    }

    /** A stored pg as this daemon tracks it, stopped, knowing where its WAL ends (blocking). */
    Compute loaded(Store store, PgRecord r) {
        Compute c = new Compute(r, new PostgresProcess(pg, r.pgdata(), r.logfile()));
        c.lastLsn = store.wal().end(r.timeline()).orElse(Lsn.INVALID);
        return c;
    }

    /** The names among {@code stored} that are already pgs of this daemon, sorted. */
    List<String> namesTakenHere(List<PgRecord> stored) {
        return stored.stream().map(PgRecord::name).filter(computes::containsKey).sorted().toList();
    }

    int allocatePort() throws IOException {
        return ports.allocate(p -> computes.values().stream().anyMatch(c -> c.record.port() == p));
    }

    boolean portTaken(int port) {
        return computes.values().stream().anyMatch(c -> c.record.port() == port);
    }

    /**
     * Tells the storage registry which pgs a storage holds, so they stay listed if it becomes unavailable,
     * and writes the owner's password file for the pgs there are now (blocking).
     */
    void rememberPgs(String storage) throws IOException {
        storages.recordPgs(storage, onStorage(storage).stream().map(Compute::name).toList());
        publishPassFile();
    }

    /**
     * ZENITH_HOME/pgpass (0600): each pg's port with its storage's password, and the replication port
     * with the replication user's. The connection strings zenith hands out name this file, so the owner's
     * psql, pgbench and pg_basebackup log in without a password on any command line.
     */
    synchronized void publishPassFile() throws IOException {
        List<PassFile.Login> logins = new ArrayList<>();
        Map<Integer, String> written = new HashMap<>();
        computes.values().stream().sorted(Comparator.comparingInt(c -> c.record.port())).forEach(c ->
                passwordOf(c).ifPresent(pw -> {
                    logins.add(new PassFile.Login(c.record.port(), "postgres", pw));
                    written.put(c.record.port(), pw);
                }));
        logins.add(new PassFile.Login(config.pgPort(), config.replicationUser(), config.replicationPassword()));
        PassFile.write(config.passFile(), "Written by zenith: the passwords of its pgs (user postgres) and of its"
                + " replication port; libpq's format (PGPASSFILE, passfile=).", logins);
        named = Map.copyOf(written);
    }

    /**
     * Marks a compute running, once the pass file names its port with its password (written first when it does
     * not): whoever sees it running may connect with the file at once (a pg taken back at a storage's take-in,
     * a start that gave its cluster a password the storage does not keep yet). It runs whatever happens to the file:
     * when that cannot be written, the log says why the owner's logins fail. Blocking.
     */
    void nowRunning(Compute c) {
        Optional<String> password = passwordOf(c);
        if (password.isPresent() && !password.get().equals(named.get(c.record.port()))) {
            try {
                publishPassFile();
            } catch (IOException e) {
                LOG.severe("pg " + c.name() + " runs, but " + config.passFile() + " could not be written to name its port: "
                        + e.getMessage());
            }
        }
        c.running = true;
    }

    /** The password role postgres of {@code c} has: one set in its cluster and not kept yet, else its storage's. */
    private Optional<String> passwordOf(Compute c) {
        String unkept = c.unkeptPassword;
        return unkept != null ? Optional.of(unkept)
                : storages.find(c.record.storageName()).flatMap(s -> ClusterPasswords.find(s.store()));
    }

    void checkStorageUnused(String storage) {
        List<String> users = onStorage(storage).stream().map(Compute::name).sorted().toList();
        if (!users.isEmpty()) {
            throw new ConflictException("storage '" + storage + "' is used by pg(s) " + users + "; destroy them first");
        }
    }

    /** The running primary of {@code r}'s timeline other than {@code except}, if any. */
    Optional<Compute> primaryOf(PgRecord r, Compute except) {
        return computes.values().stream().filter(o -> o != except && o.runsAsPrimaryOf(r)).findFirst();
    }

    /** A pg other than {@code except} being promoted from {@code r}'s timeline (it will fence that history), if any. */
    Optional<Compute> promotingOn(PgRecord r, Compute except) {
        return computes.values().stream().filter(o -> o != except && o.busy == Compute.Busy.PROMOTING
                && o.record.sameTimelineAs(r)).findFirst();
    }

    /** Whether a running primary writes this timeline. */
    boolean hasWriter(String storageName, TimelineId timeline) {
        return computes.values().stream().anyMatch(c -> c.running && c.isPrimary()
                && c.record.storageName().equals(storageName) && c.record.timeline().equals(timeline));
    }

    /** Whether a receiver still streams {@code r}'s timeline. */
    boolean timelineStreams(PgRecord r) {
        return computes.values().stream().anyMatch(o -> o.receiver != null && o.record.sameTimelineAs(r));
    }

    /** Where the pg's WAL ends as far as the daemon knows: its receiver's, its timeline's primary's, or the store's. */
    Lsn lastLsn(Compute c) {
        WalReceiver rx = c.receiver;
        return rx != null && rx.flushed().isValid() ? rx.flushed() : timelineFlushed(c.record).orElse(c.lastLsn);
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

    /** Deletes a compute's directory (computesDir/NAME, ours), never one a storage lives in (blocking). */
    void deleteComputeDirectory(String pgName, Path pgdata) throws IOException {
        refuseIfHoldsStorage(pgName, pgdata);
        FileTrees.delete(pgdata);
        FileTrees.delete(ComputeDirectories.walStaging(pgdata)); // left by a rebuild that crashed
    }

    /** Zenith did not create a storage inside a compute's directory, so it deletes neither (blocking). */
    void refuseIfHoldsStorage(String pgName, Path pgdata) throws IOException {
        Optional<String> storage = storages.storageWithin(pgdata);
        if (storage.isPresent()) {
            throw new ConflictException("the data directory " + pgdata + " of pg '" + pgName + "' holds storage '"
                    + storage.get() + "', which zenith would delete with it; detach that storage (its files stay) and"
                    + " move it elsewhere first");
        }
    }
}
