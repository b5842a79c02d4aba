package dev.zenith.server.storages;

import dev.zenith.pgexec.FileTrees;
import dev.zenith.server.domain.ConflictException;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Supplier;

/**
 * Where a storage may live: never where it would alias other state. Compares real paths (a symbolic link
 * into a storage is that storage).
 */
final class StoragePlaces {
    /** Every listed storage's path as attached, available or not, by name. */
    private final Supplier<Map<String, Path>> listedPaths;
    /** The daemon's own directories storages keep out of (see {@link #reserve}). */
    private final List<Reserved> reserved = new CopyOnWriteArrayList<>();

    StoragePlaces(Supplier<Map<String, Path>> listedPaths) {
        this.listedPaths = listedPaths;
    }

    /** A directory of the daemon's own: no storage may lie in it, nor (with {@code bothWays}) around it. */
    record Reserved(String what, Path realPath, boolean bothWays) {
        /** How {@code storage} (a real path) collides with it, or null. */
        String conflictWith(Path storage) {
            if (realPath.startsWith(storage)) {
                return (realPath.equals(storage) ? "" : "around ") + what + " at " + realPath;
            }
            return bothWays && storage.startsWith(realPath) ? "inside " + what + " at " + realPath : null;
        }
    }

    /** Keeps storages attached from now on out of {@code dir}; returns it to check those already listed. */
    Reserved reserve(String what, Path dir, boolean bothWays) throws IOException {
        Reserved r = new Reserved(what, FileTrees.realPath(dir), bothWays);
        reserved.add(r);
        return r;
    }

    /**
     * Refuses a place that would alias other state: another storage's directory, one inside or around it
     * (the outer one could not be opened again), and the daemon's own directories ({@link #reserve}).
     */
    void check(Path path) throws IOException {
        Path real = FileTrees.realPath(path);
        String shown = real.equals(path) ? path.toString() : path + " (really " + real + ")";
        for (Map.Entry<String, Path> other : listedPaths.get().entrySet()) {
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

    /** The listed storage (available or not) whose directory is {@code dir} or lies in it, if any. */
    Optional<String> storageWithin(Path dir) throws IOException {
        Path real = FileTrees.realPath(dir);
        for (Map.Entry<String, Path> s : listedPaths.get().entrySet()) {
            if (FileTrees.realPath(s.getValue()).startsWith(real)) {
                return Optional.of(s.getKey());
            }
        }
        return Optional.empty();
    }
}
