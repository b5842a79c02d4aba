package dev.zenith.server.storages;

import dev.zenith.pgexec.PrivateFiles;
import dev.zenith.server.domain.ConflictException;
import dev.zenith.server.domain.InvalidRequestException;
import dev.zenith.storage.Store;
import dev.zenith.storage.StoreInUseException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;

/** A native storage's directory as a client names it at attach: checked, made private, its store opened. */
final class NativeStores {
    private NativeStores() {
    }

    /** {@code pathText} as a directory a storage may be in (400 for a path no one means, 409 for a place kept from storages). */
    static Path checkedPath(String pathText, StoragePlaces places) throws IOException {
        Path path = path(pathText);
        places.check(path);
        if (Files.exists(path) && !Files.isDirectory(path)) {
            throw new InvalidRequestException("path " + path + " exists and is not a directory");
        }
        return path;
    }

    /** The store at {@code path}, made if new (409 for one another process holds, 400 for one that does not open). */
    static Store open(Path path) {
        try {
            // 0700, and never inside (or at) a directory another user owns: they could read or swap it
            PrivateFiles.directory(path);
            return Store.open(path);
        } catch (StoreInUseException e) {
            throw new ConflictException("cannot attach " + path + ": " + e.getMessage());
        } catch (IOException | RuntimeException e) {
            throw new InvalidRequestException("cannot open a native storage at " + path + ": " + e.getMessage());
        }
    }

    private static Path path(String pathText) {
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
        return path.normalize();
    }
}
