package dev.zenith.server.storages;

import dev.zenith.server.domain.InvalidRequestException;
import dev.zenith.server.domain.NotFoundException;
import dev.zenith.server.domain.ConflictException;
import dev.zenith.server.domain.Names;
import dev.zenith.pgexec.FileTrees;
import dev.zenith.server.jobs.Management;
import dev.zenith.pgexec.PrivateFiles;
import dev.zenith.storage.Store;
import dev.zenith.storage.StoreInUseException;
import io.vertx.core.json.JsonObject;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;

/**
 * The attached storages, persisted in {@code ZENITH_HOME/storages.json}. A native storage is an LMDB
 * store at its path. Attach opens it, detach closes it and leaves its files alone.
 *
 * <p>Mutations are called under the daemon's management lock (one at a time); reads may come from anywhere.
 */
public final class StorageRegistry implements AutoCloseable {
    private static final java.util.logging.Logger LOG = java.util.logging.Logger.getLogger(StorageRegistry.class.getName());
    public static final String DEFAULT_STORAGE = "local";

    /**
     * One attached storage; {@code pitr} is how far back any point in time stays reachable; {@code tenantId}
     * is the storage's own id (kept in it, so it moves with it), which page-service clients name it by.
     */
    public record Storage(String name, String type, Path path, Instant attachedAt, Duration pitr, Store store,
                          String tenantId, JsonObject remote) {
        Storage(String name, String type, Path path, Instant attachedAt, Duration pitr, Store store, JsonObject remote) {
            this(name, type, path, attachedAt, pitr, store, TenantIds.of(store), remote);
        }
    }

    /** The attached storage whose id is {@code tenantId} (as {@link Storage#tenantId}, lower case). */
    public Optional<Storage> findByTenantId(String tenantId) {
        return list().stream().filter(s -> s.tenantId().equals(tenantId)).findFirst();
    }

    public static final Duration DEFAULT_PITR = Duration.ofDays(7);


    private final RegistryFile registryFile;
    private final Map<String, Storage> storages = new ConcurrentHashMap<>();
    /** Listed in the registry but not openable (corrupt, missing, foreign): reported, kept, not used. */
    private final Map<String, UnavailableStorage> unavailable = new ConcurrentHashMap<>();
    /**
     * Names of unavailable storages that another process holds (a lock, not damage), or whose remote did not
     * answer while they have no local cache: tried again.
     */
    private final Set<String> heldElsewhere = ConcurrentHashMap.newKeySet();
    /** For the storages whose remote did not answer: when to try again (nanoTime), and how many tries failed. */
    private final Map<String, long[]> remoteRetries = new ConcurrentHashMap<>();
    /** s3 storages being attached (their lease taken, a restore under way) without the management lock: name, place. */
    private final Map<String, JsonObject> attaching = new ConcurrentHashMap<>();
    private volatile boolean closed;
    /**
     * The pg names each available storage holds, kept in the registry file too: while a storage is
     * unavailable its pgs cannot be read from it, yet they must neither vanish nor have their names reused.
     */
    private final Map<String, List<String>> pgNames = new ConcurrentHashMap<>();
    private final StoragePlaces places = new StoragePlaces(this::listedPaths);
    /** Told of each storage attached while the daemon runs, once its pgs are adopted. */
    private final List<Consumer<Storage>> attachListeners = new CopyOnWriteArrayList<>();
    /** Told of each storage about to be detached, before its store closes. */
    private final List<Consumer<Storage>> detachListeners = new CopyOnWriteArrayList<>();

    /** Storages kept elsewhere (s3); attaching one, its local cache in a directory of caches (one per storage name). */
    private final RemoteStores remotes;
    private final RemoteAttach remoteAttach;

    private StorageRegistry(Path registryFile, RemoteStores remotes, Path remoteCaches) {
        this.registryFile = new RegistryFile(registryFile);
        this.remotes = remotes;
        this.remoteAttach = new RemoteAttach(remotes, places, remoteCaches);
    }

    /** Opens every storage listed in the registry file, attaching {@code local} on the first start. */
    public static StorageRegistry open(Path registryFile, Path defaultStoragePath) throws IOException {
        return open(registryFile, defaultStoragePath, RemoteStores.NONE, null);
    }

    /** As {@link #open(Path, Path)}, with storages kept elsewhere opened by {@code remotes}, cached in {@code remoteCaches}. */
    public static StorageRegistry open(Path registryFile, Path defaultStoragePath, RemoteStores remotes, Path remoteCaches)
            throws IOException {
        StorageRegistry r = new StorageRegistry(registryFile, remotes, remoteCaches);
        if (r.registryFile.exists()) {
            for (JsonObject s : r.registryFile.read()) {
                r.unavailable.put(s.getString("name"), new UnavailableStorage(s, "not opened yet"));
                r.openListed(s.getString("name"), Outside.INLINE);
            }
        } else {
            r.attach(DEFAULT_STORAGE, "native", defaultStoragePath.toString(), DEFAULT_PITR);
        }
        return r;
    }

    /**
     * Opens an unavailable storage: on success it joins the attached ones. One held by another process is
     * remembered, so that {@link #openReleased} takes it once that process lets go; any other failure
     * leaves it unavailable with its error (one broken storage must not take the others down).
     */
    private Optional<Storage> openListed(String name, Outside outside) {
        UnavailableStorage u = unavailable.get(name);
        JsonObject s = u.listedEntry();
        Path path = u.path();
        try {
            JsonObject remote = s.getJsonObject("remote");
            Store store;
            if (remote != null) {
                // a restore from the prefix (its cache is missing) runs without the management lock
                attaching.put(name, remote);
                try {
                    store = outside.open(() -> remotes.open(name, remote, path, false));
                } finally {
                    attaching.remove(name);
                }
                if (closed) {
                    remotes.closing(name);
                    store.close();
                    return Optional.empty();
                }
            } else {
                PrivateFiles.directory(path); // 0700 (storages made before zenith kept them private)
                store = Store.open(path);
            }
            Storage opened = new Storage(name, s.getString("type"), path, Instant.parse(s.getString("attached_at")),
                    s.containsKey("pitr") ? Durations.parse(s.getString("pitr")) : DEFAULT_PITR, store, remote);
            storages.put(name, opened);
            pgNames.put(name, u.pgs());
            unavailable.remove(name);
            heldElsewhere.remove(name);
            remoteRetries.remove(name);
            return Optional.of(opened);
        } catch (StoreInUseException e) {
            if (heldElsewhere.add(name)) {
                LOG.warning("storage '" + name + "' at " + path + " is in use by another process; it is taken once released");
            }
            unavailable.put(name, u.withError(e.getMessage() + "; this daemon takes it as soon as it is released"));
        } catch (RemoteNotReachedException e) {
            long[] retry = remoteRetries.computeIfAbsent(name, n -> new long[2]);
            retry[1]++;
            // 2 s doubling to a minute: each try is a request to a remote that may hang until its timeout
            retry[0] = System.nanoTime() + Math.min(60_000L, 2_000L << Math.min(5, retry[1] - 1)) * 1_000_000L;
            if (heldElsewhere.add(name)) {
                LOG.warning("storage '" + name + "': " + e.getMessage());
            }
            unavailable.put(name, u.withError(e.getMessage()));
        } catch (IOException | RuntimeException e) {
            LOG.severe("storage '" + name + "' at " + path + " cannot be opened: " + e.getMessage());
            heldElsewhere.remove(name);
            remoteRetries.remove(name);
            unavailable.put(name, u.withError(e.getMessage()));
        }
        return Optional.empty();
    }

    /** Whether some listed storage is unavailable only because another process holds it. */
    public boolean anyHeldElsewhere() {
        return !heldElsewhere.isEmpty();
    }

    /**
     * The storages another process held, opened now if it let go of them; called periodically. An s3 storage's
     * restore runs in {@code outside} (without the management lock).
     */
    public List<Storage> openReleased(Outside outside) {
        List<Storage> opened = new ArrayList<>();
        for (String name : List.copyOf(heldElsewhere)) {
            long[] retry = remoteRetries.get(name);
            if ((retry != null && System.nanoTime() < retry[0]) || attaching.containsKey(name) || !unavailable.containsKey(name)) {
                continue; // not due yet, being restored by an earlier poll, or detached meanwhile
            }
            openListed(name, outside).ifPresent(opened::add);
        }
        return opened;
    }

    /**
     * Closes an attached storage and lists it as unavailable with {@code error}, as when it cannot be
     * opened; the registry file does not change. For a storage that opened but cannot be used here.
     */
    public void setUnavailable(String name, String error) {
        Storage s = storages.remove(name);
        if (s == null) {
            return;
        }
        unavailable.put(name, new UnavailableStorage(entryOf(s), error));
        pgNames.remove(name);
        closeForDetach(s);
    }

    /** Tells the detach listeners (before the store closes, as they may still read it), then closes it. */
    private void closeForDetach(Storage s) {
        detachListeners.forEach(l -> l.accept(s));
        closeStore(s);
    }

    /** A storage kept elsewhere first uploads what is left and lets go of its remote. */
    private void closeStore(Storage s) {
        if (s.remote() != null) {
            remotes.closing(s.name());
        }
        s.store().close();
    }

    /** Waits until a storage kept elsewhere holds there everything it holds here (true at once for others). */
    public boolean syncRemote(String name, Duration timeout) {
        Storage s = storages.get(name);
        return s == null || s.remote() == null || remotes.sync(name, timeout);
    }

    /** For a storage kept elsewhere: where each timeline's WAL the remote lacks begins (GC keeps it); else none. */
    public java.util.Map<dev.zenith.storage.timeline.TimelineId, dev.zenith.wal.Lsn> walNotYetRemote(String name) {
        Storage s = storages.get(name);
        return s == null || s.remote() == null ? java.util.Map.of() : remotes.walNotYetRemote(name);
    }

    /** For a storage kept elsewhere: what the remote holds and how far behind it is; else null. */
    public JsonObject remoteStatus(String name) {
        Storage s = storages.get(name);
        return s == null || s.remote() == null ? null : remotes.status(name);
    }

    public Storage attach(String name, String type, String pathText, Duration pitr) throws IOException {
        return attach(name, type, pathText, pitr, null, null, null, Outside.INLINE);
    }

    /**
     * Runs the slow part of attaching an s3 storage (taking its lease, restoring it from its prefix: tens of
     * seconds for a large storage) without the daemon's management lock, so that other storages and pgs stay
     * usable meanwhile; it returns with the lock held again.
     */
    @FunctionalInterface
    public interface Outside {
        Store open(Management.Wait<Store> open) throws IOException;

        /** For callers that hold no lock (tests, start-up). */
        Outside INLINE = Management.Wait::call;
    }

    /**
     * {@code endpoint}, {@code region} and {@code cacheBytes} (the local cache's bound, kept in the entry's
     * "remote"; null: the conf default) are for storages kept elsewhere (s3) only.
     */
    public Storage attach(String name, String type, String pathText, Duration pitr, String endpoint, String region,
                          Long cacheBytes, Outside outside) throws IOException {
        Names.check("storage", name);
        if (remotes.handles(type)) {
            return attachRemote(name, type, pathText, pitr, endpoint, region, cacheBytes, outside);
        }
        if (!"native".equals(type)) {
            throw new InvalidRequestException("storage type '" + type + "' is not supported; use \"native\" or \"s3\"");
        }
        if (endpoint != null || region != null || cacheBytes != null) {
            throw new InvalidRequestException("endpoint, region and cache_size are for s3 storages; a native storage is a directory");
        }
        if (pathText == null || pathText.isBlank()) {
            throw new InvalidRequestException("field 'path' is required for a native storage");
        }
        checkNameFree(name);
        Path path = NativeStores.checkedPath(pathText, places);
        return added(new Storage(name, type, path, Instant.now(), pitr, NativeStores.open(path), null));
    }

    /** Saves a newly opened storage in the registry file; closed again if that fails. */
    private Storage added(Storage s) throws IOException {
        storages.put(s.name(), s);
        try {
            save();
        } catch (IOException e) {
            storages.remove(s.name());
            closeStore(s);
            throw e;
        }
        return s;
    }

    private void checkNameFree(String name) {
        if (storages.containsKey(name) || unavailable.containsKey(name)) {
            throw new ConflictException("storage '" + name + "' already exists");
        }
        if (attaching.containsKey(name)) {
            throw new ConflictException("storage '" + name + "' is being attached");
        }
    }

    /**
     * A storage kept elsewhere: see {@link RemoteAttach}. Its name and place are taken (under the lock) before
     * {@code outside} opens it without the lock; a daemon stopping meanwhile lets go of it again.
     */
    private Storage attachRemote(String name, String type, String pathText, Duration pitr, String endpoint, String region,
                                 Long cacheBytes, Outside outside) throws IOException {
        JsonObject remote = remoteAttach.describe(type, pathText, endpoint, region);
        if (cacheBytes != null) {
            remotes.checkCacheBytes(cacheBytes);
            remote.put(RemoteStores.CACHE_BYTES, cacheBytes);
        }
        checkNameFree(name);
        remoteAttach.checkPlaceFree(remote, storages.values(), unavailable.values(), attaching);
        attaching.put(name, remote);
        try {
            Store store = outside.open(() -> remoteAttach.open(name, remote));
            if (closed) {
                remotes.closing(name);
                store.close();
                throw new dev.zenith.server.domain.UnavailableException("storage '" + name + "' was not attached: the daemon is stopping");
            }
            return added(new Storage(name, type, remoteAttach.cacheOf(name), Instant.now(), pitr, store, remote));
        } finally {
            attaching.remove(name);
        }
    }

    /**
     * Keeps storages out of one of the daemon's own directories ({@code bothWays}: and from holding it),
     * e.g. the compute directories, which pg destroy deletes. A listed storage already there becomes
     * unavailable with the reason (detach it and attach it elsewhere; its files stay).
     */
    public void reserve(String what, Path dir, boolean bothWays) throws IOException {
        StoragePlaces.Reserved r = places.reserve(what, dir, bothWays);
        for (Storage s : List.copyOf(storages.values())) {
            String conflict = r.conflictWith(FileTrees.realPath(s.path()));
            if (conflict != null) {
                String error = "its path " + s.path() + " is " + conflict + "; detach it (its files stay) and attach it elsewhere";
                LOG.severe("storage '" + s.name() + "' is not used: " + error);
                setUnavailable(s.name(), error);
            }
        }
    }

    /** The listed storage (available or not) whose directory is {@code dir} or lies in it, if any. */
    public Optional<String> storageWithin(Path dir) throws IOException {
        return places.storageWithin(dir);
    }

    /** Every listed storage's path as attached, available or not, by name. */
    private Map<String, Path> listedPaths() {
        Map<String, Path> listed = new TreeMap<>();
        storages.values().forEach(s -> listed.put(s.name(), s.path()));
        unavailable.values().forEach(u -> listed.put(u.name(), u.path()));
        return listed;
    }

    public void onAttach(Consumer<Storage> listener) {
        attachListeners.add(listener);
    }

    public void onDetach(Consumer<Storage> listener) {
        detachListeners.add(listener);
    }

    /** Tells the attach listeners (blocking, as they may read the store). */
    public void announceAttached(Storage s) {
        attachListeners.forEach(l -> l.accept(s));
    }

    public void detach(String name) throws IOException {
        if (attaching.containsKey(name)) {
            throw new ConflictException("storage '" + name + "' is being restored from its prefix; detach it when that is done");
        }
        if (unavailable.containsKey(name)) {
            heldElsewhere.remove(name);
            remoteRetries.remove(name);
            UnavailableStorage u = unavailable.remove(name);
            try {
                save();
            } catch (IOException e) {
                unavailable.put(name, u);
                throw e;
            }
            return;
        }
        Storage s = get(name);
        storages.remove(name);
        List<String> pgs = pgNames.remove(name);
        try {
            save();
        } catch (IOException e) {
            storages.put(name, s);
            if (pgs != null) {
                pgNames.put(name, pgs);
            }
            throw e;
        }
        closeForDetach(s);
    }

    public Storage get(String name) {
        Storage s = storages.get(name);
        UnavailableStorage broken = unavailable.get(name);
        if (broken != null) {
            throw new ConflictException("storage '" + name + "' is unavailable: " + broken.error());
        }
        if (s == null) {
            throw new NotFoundException("storage '" + name + "' not found");
        }
        return s;
    }

    public Optional<Storage> find(String name) {
        return Optional.ofNullable(storages.get(name));
    }

    public Collection<Storage> list() {
        List<Storage> l = new ArrayList<>(storages.values());
        l.sort((a, b) -> a.name().compareTo(b.name()));
        return l;
    }

    /** The pgs a storage holds now (the compute manager tells, after every change): saved with it. */
    public void recordPgs(String storage, List<String> names) throws IOException {
        List<String> sorted = names.stream().sorted().toList();
        if (storages.containsKey(storage) && !sorted.equals(pgNames.put(storage, sorted))) {
            save();
        }
    }

    /** The unavailable storage whose pgs include {@code pg}, with its error, if any. */
    public Optional<UnavailableStorage> unavailableHolding(String pg) {
        return unavailable.values().stream().filter(u -> u.pgs().contains(pg)).findFirst();
    }

    /** The pgs of unavailable storages, as the pg list shows them. */
    public List<UnavailableStorage.Pg> pgsOfUnavailable() {
        List<UnavailableStorage.Pg> out = new ArrayList<>();
        for (UnavailableStorage u : unavailable.values()) {
            for (String pg : u.pgs()) {
                out.add(new UnavailableStorage.Pg(pg, u.name(), u.error()));
            }
        }
        return out;
    }

    /** The listed storages this daemon cannot use now, with why. */
    public List<UnavailableStorage> unavailable() {
        return List.copyOf(unavailable.values());
    }

    /** The storage called {@code name} if it is listed but unavailable (404 if not listed at all). */
    public Optional<UnavailableStorage> findUnavailable(String name) {
        UnavailableStorage broken = unavailable.get(name);
        if (broken == null) {
            get(name);
        }
        return Optional.ofNullable(broken);
    }

    private JsonObject entryOf(Storage s) {
        return RegistryFile.entryOf(s, pgNames.getOrDefault(s.name(), List.of()));
    }

    /** Writes the registry atomically. Unavailable storages stay listed. */
    private void save() throws IOException {
        registryFile.write(list().stream().map(this::entryOf).toList(), List.copyOf(unavailable.values()));
    }

    @Override
    public void close() {
        closed = true;
        for (Storage s : storages.values()) {
            try {
                closeStore(s);
            } catch (RuntimeException e) {
                // closing the rest matters more
            }
        }
        storages.clear();
    }
}
