package dev.zenith.storage.image;

import dev.zenith.storage.Store;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.testkit.PgCluster;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.segment.WalGeometry;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Pages streamed as a data directory arrives, then the directory's image: forks whose files PostgreSQL left
 * alone keep their streamed pages, forks it wrote are read again, and the image materializes byte-equal to the
 * directory as it ended (a real cluster, run on its directory after its pages streamed, as an import's
 * recovery runs). A page that no longer verifies fails the image and leaves no page in the store.
 */
@Tag("pg")
class StreamedPagesTest {
    @TempDir
    Path tmp;

    @Test
    void forksPostgresWroteAfterTheyStreamedAreReadAgainTheOthersKept() throws Exception {
        try (PgCluster c = PgCluster.initdb(); Store store = Store.open(tmp.resolve("store"))) {
            c.start();
            c.pgbench("-i", "-s", "1", "-q");
            c.stop();
            Path arrived = c.dataDir(); // its pages stream, then PostgreSQL runs on it as an import's recovery does
            StreamedPages streamed = store.images().streamPages();
            try (streamed) {
                stream(arrived, streamed);
                streamed.finish();
            }
            c.start();
            c.psql("update pgbench_branches set bbalance = bbalance + 7; checkpoint");
            c.stop();
            SourceWal.Checkpoint ck = SourceWal.lastCheckpoint(c, arrived);
            TimelineId tl = store.timelines().adopt(streamed.timeline(), null, Lsn.INVALID, 1).id();
            store.wal().append(List.of(SourceWal.append(c, arrived, tl, SourceWal.segmentStart(ck.redo()), ck.redo(), ck.end())));
            ImportStats stats = store.images().importDataDirectory(tl, arrived, ck.lsn(), ck.redo(), RelationFilter.all(),
                    ImportProgress.NONE, streamed);
            System.out.println("image over streamed pages: " + stats);
            assertTrue(stats.forksKept() > 100, "most forks keep their streamed pages: " + stats);
            assertTrue(stats.forksRead() > 0 && stats.forksRead() < 100, "the ones PostgreSQL wrote are read again: " + stats);
            assertTrue(stats.pagesRead() < 400, "pgbench_accounts (1,640 pages) is not read again: " + stats);

            Path materialized = c.scratch("materialized");
            store.images().materialize(tl, ck.lsn(), materialized);
            int compared = DirectoryTrees.assertSameContent(arrived, materialized, DirectoryTrees::skippedByBaseBackup);
            assertTrue(compared > 900, "files compared: " + compared);
        }
    }

    @Test
    void aPageThatNoLongerVerifiesFailsTheImageAndLeavesNoPages() throws Exception {
        try (PgCluster c = PgCluster.initdb(); Store store = Store.open(tmp.resolve("store"))) {
            c.start();
            c.pgbench("-i", "-s", "1", "-q");
            String accounts = c.psql("select pg_relation_filepath('pgbench_accounts')");
            c.stop();
            Path arrived = c.scratch("arrived");
            DirectoryTrees.copy(c.dataDir(), arrived);
            StreamedPages streamed = store.images().streamPages();
            try (streamed) {
                stream(arrived, streamed);
                streamed.finish();
            }
            assertTrue(store.stats().entries("pages") > 1600, "pages were stored as they streamed");
            try (RandomAccessFile f = new RandomAccessFile(arrived.resolve(accounts).toFile(), "rw")) {
                f.seek(5L * WalGeometry.BLCKSZ + 12); // block 5's pd_lower and pd_upper
                f.writeInt(0x7fff7fff);
            }
            SourceWal.Checkpoint ck = SourceWal.lastCheckpoint(c, arrived);
            TimelineId tl = store.timelines().adopt(streamed.timeline(), null, Lsn.INVALID, 1).id();
            assertThrows(CorruptPageException.class, () -> store.images().importDataDirectory(tl, arrived, ck.lsn(),
                    ck.redo(), RelationFilter.all(), ImportProgress.NONE, streamed));
            assertEquals(0, store.stats().entries("pages"), "neither streamed nor read pages are left");
            assertTrue(store.images().of(tl).isEmpty());
        }
    }

    /** Gives {@code streamed} every relation file of {@code dir} in 1 MiB pieces of its own buffers, as an unpacked archive does. */
    private static void stream(Path dir, StreamedPages streamed) throws IOException {
        List<Path> files;
        try (Stream<Path> s = Files.walk(dir)) {
            files = s.filter(Files::isRegularFile).toList();
        }
        for (Path f : files) {
            String rel = dir.relativize(f).toString();
            if (!StreamedPages.isRelationFile(rel)) {
                continue;
            }
            try (InputStream in = Files.newInputStream(f)) {
                long offset = 0;
                for (byte[] buffer = streamed.buffer(); ; buffer = streamed.buffer()) {
                    int n = in.readNBytes(buffer, 0, buffer.length);
                    if (n <= 0) {
                        break;
                    }
                    streamed.pages(rel, offset, buffer, n); // handed over: a new one for the next piece
                    offset += n;
                }
            }
            streamed.fileWritten(rel, f);
        }
    }
}
