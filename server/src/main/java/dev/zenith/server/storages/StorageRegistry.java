package dev.zenith.server.storages;

import dev.zenith.server.domain.InvalidRequestException;
import dev.zenith.server.domain.NotFoundException;
import dev.zenith.server.domain.ConflictException;
import dev.zenith.server.domain.JsonProblem;
import dev.zenith.server.domain.Names;
import dev.zenith.pgexec.FileTrees;
import dev.zenith.pgexec.PrivateFiles;
import dev.zenith.storage.Store;
import dev.zenith.storage.StoreInUseException;
import dev.zenith.storage.StoreStats;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
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
import java.util.regex.Matcher;
import java.util.regex.Pattern;

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
                          String tenantId) {
        Storage(String name, String type, Path path, Instant attachedAt, Duration pitr, Store store) {
            this(name, type, path, attachedAt, pitr, store, tenantIdOf(store));
        }

        /** {@code status} is {@code available}, or {@code stalled} while its WAL writes fail, with the reason. */
        public JsonObject toJson() {
            JsonObject json = new JsonObject().put("name", name).put("type", type).put("path", path.toString())
                    .put("attached_at", attachedAt.toString()).put("pitr", formatDuration(pitr))
                    .put("tenant_id", tenantId).put("status", "available");
            store.writeStall().ifPresent(stall -> json.put("status", "stalled").put("reason", stall.reason())
                    .put("stalled_since", stall.since().toString()));
            return json;
        }
    }

    /** Where a storage keeps its id. */
    private static final String TENANT_ID_KEY = "storage/tenant_id";

    /** The storage's id: 32 hex digits, made when the storage is first attached (blocking). */
    private static String tenantIdOf(Store store) {
        Optional<byte[]> kept = store.documents().get(TENANT_ID_KEY);
        if (kept.isPresent()) {
            return new String(kept.get(), java.nio.charset.StandardCharsets.US_ASCII);
        }
        byte[] random = new byte[16];
        new java.security.SecureRandom().nextBytes(random);
        String id = java.util.HexFormat.of().formatHex(random);
        store.documents().put(TENANT_ID_KEY, id.getBytes(java.nio.charset.StandardCharsets.US_ASCII));
        return id;
    }

    /** The attached storage whose id is {@code tenantId} (as {@link Storage#tenantId}, lower case). */
    public Optional<Storage> findByTenantId(String tenantId) {
        return list().stream().filter(s -> s.tenantId().equals(tenantId)).findFirst();
    }

    public static final Duration DEFAULT_PITR = Duration.ofDays(7);
    private static final Pattern DURATION = Pattern.compile("(\\d{1,9})([smhd])");
    private static final Duration MAX_DURATION = Duration.ofDays(36_500);

    /** {@code 7d}, {@code 12h}, {@code 30m}, {@code 0s}. */
    public static Duration parseDuration(String text) {
        Matcher m = text == null ? null : DURATION.matcher(text.trim());
        if (m == null || !m.matches()) {
            throw new InvalidRequestException("a duration is a number and a unit (s, m, h, d), like 7d; got '" + text + "'");
        }
        long n = Long.parseLong(m.group(1));
        Duration d = switch (m.group(2)) {
            case "s" -> Duration.ofSeconds(n);
            case "m" -> Duration.ofMinutes(n);
            case "h" -> Duration.ofHours(n);
            default -> Duration.ofDays(n);
        };
        // Longer than any history here, and "now minus the window" must stay a time PostgreSQL can express.
        if (d.compareTo(MAX_DURATION) > 0) {
            throw new InvalidRequestException("a duration is at most " + formatDuration(MAX_DURATION) + " (100 years); got '" + text + "'");
        }
        return d;
    }

    static String formatDuration(Duration d) {
        long s = d.getSeconds();
        return s % 86400 == 0 ? s / 86400 + "d" : s % 3600 == 0 ? s / 3600 + "h" : s % 60 == 0 ? s / 60 + "m" : s + "s";
    }

    private final Path registryFile;
    private final Map<String, Storage> storages = new ConcurrentHashMap<>();
    /** Listed in the registry but not openable (corrupt, missing, foreign): reported, kept, not used. */
    private final Map<String, JsonObject> unavailable = new ConcurrentHashMap<>();
    /** Names of unavailable storages that another process holds (a lock, not damage): tried again. */
    private final Set<String> heldElsewhere = ConcurrentHashMap.newKeySet();
    /**
     * The pg names each available storage holds, kept in the registry file too: while a storage is
     * unavailable its pgs cannot be read from it, yet they must neither vanish nor have their names reused.
     */
    private final Map<String, List<String>> pgNames = new ConcurrentHashMap<>();
    /** The daemon's own directories storages keep out of (see {@link #reserve}). */
    private final List<Reserved> reserved = new CopyOnWriteArrayList<>();
    /** Told of each storage attached while the daemon runs, once its pgs are adopted. */
    private final List<Consumer<Storage>> attachListeners = new CopyOnWriteArrayList<>();
    /** Told of each storage about to be detached, before its store closes. */
    private final List<Consumer<Storage>> detachListeners = new CopyOnWriteArrayList<>();

    private StorageRegistry(Path registryFile) {
        this.registryFile = registryFile;
    }

    /** Opens every storage listed in the registry file, attaching {@code local} on the first start. */
    public static StorageRegistry open(Path registryFile, Path defaultStoragePath) throws IOException {
        StorageRegistry r = new StorageRegistry(registryFile);
        if (Files.exists(registryFile)) {
            JsonArray list;
            try {
                list = new JsonArray(Files.readString(registryFile));
            } catch (io.vertx.core.json.DecodeException e) {
                throw new IOException("cannot read " + registryFile + " (the list of storages): " + JsonProblem.of(e));
            }
            for (Object o : list) {
                JsonObject s = (JsonObject) o;
                r.unavailable.put(s.getString("name"), s.copy().put("status", "unavailable").put("error", "not opened yet"));
                r.openListed(s.getString("name"));
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
    private Optional<Storage> openListed(String name) {
        JsonObject s = unavailable.get(name);
        Path path = Path.of(s.getString("path"));
        try {
            PrivateFiles.directory(path); // 0700 (storages made before zenith kept them private)
            Storage opened = new Storage(name, s.getString("type"), path, Instant.parse(s.getString("attached_at")),
                    s.containsKey("pitr") ? parseDuration(s.getString("pitr")) : DEFAULT_PITR, Store.open(path));
            storages.put(name, opened);
            pgNames.put(name, pgsOf(s));
            unavailable.remove(name);
            heldElsewhere.remove(name);
            return Optional.of(opened);
        } catch (StoreInUseException e) {
            if (heldElsewhere.add(name)) {
                LOG.warning("storage '" + name + "' at " + path + " is in use by another process; it is taken once released");
            }
            s.put("error", e.getMessage() + "; this daemon takes it as soon as it is released");
        } catch (IOException | RuntimeException e) {
            LOG.severe("storage '" + name + "' at " + path + " cannot be opened: " + e.getMessage());
            heldElsewhere.remove(name);
            s.put("error", e.getMessage());
        }
        return Optional.empty();
    }

    /** Whether some listed storage is unavailable only because another process holds it. */
    public boolean anyHeldElsewhere() {
        return !heldElsewhere.isEmpty();
    }

    /** The storages another process held, opened now if it let go of them; called periodically. */
    public List<Storage> openReleased() {
        List<Storage> opened = new ArrayList<>();
        for (String name : List.copyOf(heldElsewhere)) {
            openListed(name).ifPresent(opened::add);
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
        unavailable.put(name, withPgs(s).put("status", "unavailable").put("error", error));
        pgNames.remove(name);
        closeForDetach(s);
    }

    /** Tells the detach listeners (before the store closes, as they may still read it), then closes it. */
    private void closeForDetach(Storage s) {
        detachListeners.forEach(l -> l.accept(s));
        s.store().close();
    }

    public Storage attach(String name, String type, String pathText, Duration pitr) throws IOException {
        Names.check("storage", name);
        if (!"native".equals(type)) {
            throw new InvalidRequestException("storage type '" + type + "' is not supported; use \"native\"");
        }
        if (pathText == null || pathText.isBlank()) {
            throw new InvalidRequestException("field 'path' is required for a native storage");
        }
        if (storages.containsKey(name) || unavailable.containsKey(name)) {
            throw new ConflictException("storage '" + name + "' already exists");
        }
        Path path;
        try {
            path = Path.of(pathText);
        } catch (InvalidPathException e) {
            throw new InvalidRequestException("'" + pathText + "' is not a path: " + e.getReason());
        }
        if (pathText.chars().anyMatch(Character::isISOControl)) { // legal in Linux paths, but no one means them
            throw new InvalidRequestException("path must not contain control characters (a newline, a tab...)");
        }
        // Relative to what? The daemon's working directory means nothing to its clients (the CLI sends absolute paths).
        if (!path.isAbsolute()) {
            throw new InvalidRequestException("path '" + pathText + "' must be absolute");
        }
        path = path.normalize();
        checkPlace(path);
        if (Files.exists(path) && !Files.isDirectory(path)) {
            throw new InvalidRequestException("path " + path + " exists and is not a directory");
        }
        Store store;
        try {
            // 0700, and never inside (or at) a directory another user owns: they could read or swap it
            PrivateFiles.directory(path);
            store = Store.open(path);
        } catch (StoreInUseException e) {
            throw new ConflictException("cannot attach " + path + ": " + e.getMessage());
        } catch (IOException | RuntimeException e) {
            throw new InvalidRequestException("cannot open a native storage at " + path + ": " + e.getMessage());
        }
        Storage s = new Storage(name, type, path, Instant.now(), pitr, store);
        storages.put(name, s);
        try {
            save();
        } catch (IOException e) {
            storages.remove(name);
            store.close();
            throw e;
        }
        return s;
    }

    /**
     * Refuses a place that would alias other state, comparing real paths (a symbolic link into a storage is
     * that storage): another storage's directory, one inside or around it (the outer one could not be
     * opened again), and the daemon's own directories ({@link #reserve}).
     */
    private void checkPlace(Path path) throws IOException {
        Path real = FileTrees.realPath(path);
        String shown = real.equals(path) ? path.toString() : path + " (really " + real + ")";
        for (Map.Entry<String, Path> other : listedPaths().entrySet()) {
            Path p = FileTrees.realPath(other.getValue());
            if (p.equals(real)) {
                throw new ConflictException("path " + shown + " is already attached as storage '" + other.getKey() + "'");
            }
            if (real.startsWith(p) || p.startsWith(real)) {
                throw new ConflictException("path " + shown + " is " + (real.startsWith(p) ? "inside" : "around")
                        + " storage '" + other.getKey() + "' at " + other.getValue() + "; a storage needs a directory of its own");
            }
        }
        for (Reserved r : reserved) {
            String conflict = r.conflictWith(real);
            if (conflict != null) {
                throw new ConflictException("path " + shown + " is " + conflict + "; a storage needs a directory of its own");
            }
        }
    }

    /** A directory of the daemon's own: no storage may lie in it, nor (with {@code bothWays}) around it. */
    private record Reserved(String what, Path realPath, boolean bothWays) {
        /** How {@code storage} (a real path) collides with it, or null. */
        String conflictWith(Path storage) {
            if (realPath.startsWith(storage)) {
                return (realPath.equals(storage) ? "" : "around ") + what + " at " + realPath;
            }
            return bothWays && storage.startsWith(realPath) ? "inside " + what + " at " + realPath : null;
        }
    }

    /**
     * Keeps storages out of one of the daemon's own directories ({@code bothWays}: and from holding it),
     * e.g. the compute directories, which pg destroy deletes. A listed storage already there becomes
     * unavailable with the reason (detach it and attach it elsewhere; its files stay).
     */
    public void reserve(String what, Path dir, boolean bothWays) throws IOException {
        Reserved r = new Reserved(what, FileTrees.realPath(dir), bothWays);
        reserved.add(r);
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
        Path real = FileTrees.realPath(dir);
        for (Map.Entry<String, Path> s : listedPaths().entrySet()) {
            if (FileTrees.realPath(s.getValue()).startsWith(real)) {
                return Optional.of(s.getKey());
            }
        }
        return Optional.empty();
    }

    /** Every listed storage's path as attached, available or not, by name. */
    private Map<String, Path> listedPaths() {
        Map<String, Path> listed = new TreeMap<>();
        storages.values().forEach(s -> listed.put(s.name(), s.path()));
        unavailable.values().forEach(u -> listed.put(u.getString("name"), Path.of(u.getString("path"))));
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
        if (unavailable.containsKey(name)) {
            heldElsewhere.remove(name);
            JsonObject u = unavailable.remove(name);
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
        JsonObject broken = unavailable.get(name);
        if (broken != null) {
            throw new ConflictException("storage '" + name + "' is unavailable: " + broken.getString("error"));
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
    public Optional<JsonObject> unavailableHolding(String pg) {
        return unavailable.values().stream().filter(u -> pgsOf(u).contains(pg)).findFirst();
    }

    /** The pgs of unavailable storages, as the pg list shows them. */
    public List<JsonObject> pgsOfUnavailable() {
        List<JsonObject> out = new ArrayList<>();
        for (JsonObject u : unavailable.values()) {
            for (String pg : pgsOf(u)) {
                out.add(new JsonObject().put("name", pg).put("storage_name", u.getString("name")).put("status", "unavailable")
                        .put("error", "storage '" + u.getString("name") + "' is unavailable: " + u.getString("error")));
            }
        }
        return out;
    }

    private JsonObject withPgs(Storage s) {
        return s.toJson().put("pgs", new JsonArray(pgNames.getOrDefault(s.name(), List.of())));
    }

    private static List<String> pgsOf(JsonObject entry) {
        JsonArray a = entry.getJsonArray("pgs");
        return a == null ? List.of() : a.stream().map(String::valueOf).toList();
    }

    /** Every storage as the REST API shows it, the unavailable ones with their error. */
    public JsonArray describeAll() {
        JsonArray all = new JsonArray();
        list().forEach(s -> all.add(s.toJson()));
        unavailable.values().forEach(all::add);
        return all;
    }

    public JsonObject describe(String name) {
        JsonObject broken = unavailable.get(name);
        return broken != null ? broken : get(name).toJson();
    }

    /**
     * As {@link #describe}, plus for an available storage what its store holds now (blocking: reads the
     * store): {@code size.used_bytes}, the LMDB pages holding data (garbage collection frees pages that
     * later writes reuse), {@code size.file_bytes} and {@code size.timelines}.
     */
    public JsonObject describeWithSize(String name) {
        JsonObject d = describe(name);
        Storage s = storages.get(name);
        if (s == null || unavailable.containsKey(name)) {
            return d;
        }
        StoreStats stats = s.store().stats();
        return d.copy().put("size", new JsonObject().put("used_bytes", stats.usedBytes())
                .put("high_water_bytes", stats.highWaterBytes()).put("file_bytes", stats.fileBytes())
                .put("timelines", stats.entries("timelines")));
    }

    /** Writes the registry atomically: a temp file, fsync, rename. Unavailable storages stay listed. */
    private void save() throws IOException {
        JsonArray list = new JsonArray();
        list().forEach(s -> {
            JsonObject entry = withPgs(s);
            entry.remove("reason"); // a stall is the running daemon's news, not the storage's description
            entry.remove("stalled_since");
            list.add(entry.put("status", "available"));
        });
        unavailable.values().forEach(u -> {
            JsonObject entry = u.copy();
            entry.remove("status");
            entry.remove("error");
            list.add(entry);
        });
        Files.createDirectories(registryFile.getParent());
        Path tmp = registryFile.resolveSibling(registryFile.getFileName() + ".tmp");
        Files.writeString(tmp, list.encodePrettily());
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
            ch.force(true);
        }
        Files.move(tmp, registryFile, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    @Override
    public void close() {
        for (Storage s : storages.values()) {
            try {
                s.store().close();
            } catch (RuntimeException e) {
                // closing the rest matters more
            }
        }
        storages.clear();
    }
}
