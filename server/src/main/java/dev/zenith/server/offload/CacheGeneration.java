package dev.zenith.server.offload;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.OptionalLong;

/**
 * The lease generation an s3 storage's local cache last wrote its prefix under, kept beside the cache
 * directory ({@code s3-cache/NAME.lease-generation}: the store's directory holds only the store's files).
 * It is written before the first manifest of a generation, so a prefix whose newest manifest has a higher
 * generation was written by someone else since: this cache must not continue it. (Written first, a crash
 * in between leaves it one generation ahead, never behind: no false alarm.)
 */
final class CacheGeneration {
    private static Path file(Path cacheDir) {
        return cacheDir.resolveSibling(cacheDir.getFileName() + ".lease-generation");
    }

    private CacheGeneration() {
    }

    /** What the cache in {@code cacheDir} recorded; empty for a cache made before this was kept. */
    static OptionalLong read(Path cacheDir) {
        Path f = file(cacheDir);
        try {
            return Files.exists(f) ? OptionalLong.of(Long.parseLong(Files.readString(f, StandardCharsets.US_ASCII).trim()))
                    : OptionalLong.empty();
        } catch (IOException | NumberFormatException e) {
            return OptionalLong.empty(); // unreadable: trusted as a cache made before the record was kept
        }
    }

    /** Records {@code generation} durably (a temporary file, fsynced, renamed over the record). */
    static void write(Path cacheDir, long generation) {
        Path f = file(cacheDir);
        Path tmp = f.resolveSibling(f.getFileName() + ".tmp");
        try {
            Files.createDirectories(f.getParent());
            Files.writeString(tmp, Long.toString(generation), StandardCharsets.US_ASCII);
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
                ch.force(true);
            }
            Files.move(tmp, f, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot record the lease generation in " + cacheDir, e);
        }
    }
}
