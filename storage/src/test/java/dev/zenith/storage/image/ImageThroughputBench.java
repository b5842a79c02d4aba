package dev.zenith.storage.image;

import dev.zenith.storage.Store;
import dev.zenith.storage.StoreStats;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.testkit.PgCluster;
import dev.zenith.wal.Lsn;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Measures import and materialize on pgbench scale 10. Not part of the normal suite (it takes
 * minutes on a shared machine): {@code mvn -o -pl storage install -Dzenith.bench=true -Dtest=ImageThroughputBench}.
 * Prints its numbers; asserts only correctness (materialize reproduces the relation bytes).
 */
@Tag("pg")
@Tag("slow")
class ImageThroughputBench {
    @TempDir
    Path tmp;

    @Test
    void pgbenchScale10() throws Exception {
        assumeTrue("true".equals(System.getProperty("zenith.bench")), "set -Dzenith.bench=true to run");
        int scale = Integer.getInteger("zenith.bench.scale", 10);
        try (PgCluster c = PgCluster.initdb(); Store store = Store.open(tmp.resolve("store"))) {
            c.start();
            c.pgbench("-i", "-s", Integer.toString(scale), "-q");
            c.stop();
            SourceWal.Checkpoint ck = SourceWal.lastCheckpoint(c);
            TimelineId tl = store.timelines().create(null, Lsn.INVALID, 1).id();
            long dirBytes = size(c.dataDir());

            ImportStats imp = store.images().importDataDirectory(tl, c.dataDir(), ck.lsn(), ck.redo(), RelationFilter.all());
            StoreStats stats = store.stats();
            ImportStats again = store.images().importDataDirectory(tl, c.dataDir(), ck.lsn(), ck.redo(), RelationFilter.all());
            Path mat = tmp.resolve("mat");
            MaterializeStats m = store.images().materialize(tl, ck.lsn(), mat);
            assertEquals(0, again.pagesStored());
            DirectoryTrees.assertSameContent(c.dataDir(), mat, DirectoryTrees::skippedByBaseBackup);

            System.out.printf("pgbench scale %d: data directory %.1f MB (pg_wal included), %d pages%n", scale,
                    mb(dirBytes), imp.pagesRead());
            System.out.printf("import: %.1f MB read in %d ms = %.1f MB/s; %d pages stored, %.1f MB encoded%n",
                    mb(imp.bytesRead()), imp.duration().toMillis(), mbps(imp.bytesRead(), imp.duration().toMillis()),
                    imp.pagesStored(), mb(imp.bytesStored()));
            System.out.printf("re-import (all pages present): %d ms = %.1f MB/s%n", again.duration().toMillis(),
                    mbps(again.bytesRead(), again.duration().toMillis()));
            System.out.printf("store: data.mdb %.1f MB, LMDB pages in use %.1f MB, %d page versions%n",
                    mb(stats.fileBytes()), mb(stats.usedBytes()), stats.entries("pages"));
            System.out.printf("materialize: %.1f MB in %d ms = %.1f MB/s%n", mb(m.bytesWritten()),
                    m.duration().toMillis(), mbps(m.bytesWritten(), m.duration().toMillis()));
        }
    }

    private static double mb(long bytes) {
        return bytes / 1e6;
    }

    private static double mbps(long bytes, long millis) {
        return bytes / 1e3 / Math.max(1, millis);
    }

    private static long size(Path dir) throws Exception {
        try (Stream<Path> s = Files.walk(dir)) {
            return s.filter(Files::isRegularFile).mapToLong(p -> p.toFile().length()).sum();
        }
    }
}
