package dev.zenith.pgexec;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;

/** Directory trees as PostgreSQL data directories need them handled. */
public final class FileTrees {
    private FileTrees() {
    }

    /**
     * Where an absolute path really leads: symbolic links of its longest existing part resolved (the rest,
     * not there yet, appended as written). Two paths that name the same directory through links compare equal.
     */
    public static Path realPath(Path path) throws IOException {
        Path p = path.toAbsolutePath().normalize();
        Path existing = p;
        while (existing != null && !Files.exists(existing)) {
            existing = existing.getParent();
        }
        if (existing == null) {
            return p;
        }
        return existing.toRealPath().resolve(existing.relativize(p)).normalize();
    }

    /** Deletes {@code dir} and everything below it; nothing happens when it does not exist. */
    public static void delete(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (var paths = Files.walk(dir)) {
            paths.sorted(Comparator.reverseOrder()).forEach(p -> {
                try {
                    Files.deleteIfExists(p);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
        } catch (UncheckedIOException e) {
            throw e.getCause();
        }
    }
}
