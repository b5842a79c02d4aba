package dev.zenith.storage.image;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Predicate;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/** Copying and comparing data directories in tests. */
final class DirectoryTrees {
    private DirectoryTrees() {
    }

    static void copy(Path from, Path to) throws IOException {
        try (Stream<Path> s = Files.walk(from)) {
            for (Path p : (Iterable<Path>) s::iterator) {
                Path t = to.resolve(from.relativize(p).toString());
                if (Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
                    Files.createDirectories(t);
                } else {
                    Files.copy(p, t, StandardCopyOption.COPY_ATTRIBUTES);
                }
            }
        }
    }

    static Set<String> files(Path root) throws IOException {
        return entries(root, Files::isRegularFile);
    }

    static Set<String> directories(Path root) throws IOException {
        return entries(root, Files::isDirectory);
    }

    private static Set<String> entries(Path root, Predicate<Path> kind) throws IOException {
        Set<String> out = new TreeSet<>();
        try (Stream<Path> s = Files.walk(root)) {
            s.filter(p -> !p.equals(root)).filter(kind).forEach(p -> out.add(root.relativize(p).toString()));
        }
        return out;
    }

    /**
     * Every file of {@code result} is byte-identical to the same file in {@code source}; every file
     * of {@code source} is in {@code result} unless {@code skipped} says base backup leaves it out;
     * every directory of {@code source} exists in {@code result} unless skipped. Returns the files compared.
     */
    static int assertSameContent(Path source, Path result, Predicate<String> skipped) throws IOException {
        Set<String> sourceFiles = files(source);
        Set<String> resultFiles = files(result);
        List<String> missing = new ArrayList<>();
        for (String f : sourceFiles) {
            if (!resultFiles.contains(f) && !skipped.test(f)) {
                missing.add(f);
            }
        }
        assertEquals(List.of(), missing, "files of the source missing from the result");
        for (String f : resultFiles) {
            assertTrue(sourceFiles.contains(f), "result has a file the source lacks: " + f);
            if (!Arrays.equals(Files.readAllBytes(source.resolve(f)), Files.readAllBytes(result.resolve(f)))) {
                fail("content differs: " + f);
            }
            assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(result.resolve(f))), f);
        }
        Set<String> missingDirs = new TreeSet<>(directories(source));
        missingDirs.removeAll(directories(result));
        missingDirs.removeIf(skipped);
        assertEquals(Set.of(), missingDirs, "directories of the source missing from the result");
        return resultFiles.size();
    }

    /** What PostgreSQL 15's base backup leaves out of a stopped cluster's directory. */
    static boolean skippedByBaseBackup(String path) {
        String name = Path.of(path).getFileName().toString();
        return path.startsWith("pg_wal/") || name.startsWith("pgsql_tmp") || name.equals("postmaster.opts") || name.equals("postmaster.pid")
                || name.startsWith("pg_internal.init") || path.startsWith("pg_stat_tmp/")
                || path.startsWith("pg_subtrans/") || path.startsWith("pg_replslot/") || path.startsWith("pg_notify/")
                || path.startsWith("pg_serial/") || path.startsWith("pg_snapshots/") || path.startsWith("pg_dynshmem/");
    }
}
