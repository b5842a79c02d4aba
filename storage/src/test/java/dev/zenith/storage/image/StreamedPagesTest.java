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

            assertMaterializesAs(arrived, c, store, tl, ck);
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

    @Test
    void piecesLeftOutAreWrittenBackWherePostgresWillReadThemAndBeforeTheImageReadsThem() throws Exception {
        try (PgCluster c = PgCluster.initdb(); Store store = Store.open(tmp.resolve("store"))) {
            // pg_database rewritten: its file is found through global/pg_filenode.map
            String accounts = stoppedPgbench(c, "create table kept_in_template1 as select generate_series(1, 1000) i",
                    "vacuum full pg_database");
            Path pristine = c.scratch("pristine");
            DirectoryTrees.copy(c.dataDir(), pristine);
            Path arrived = c.dataDir();
            StreamedPages streamed = store.images().streamPages();
            try (streamed) {
                streamLeavingOut(c, arrived, streamed);
                streamed.fillForRecovery(arrived); // template1's files come back; shut down cleanly, no WAL is replayed
                for (Path f : relationFiles(pristine)) {
                    String rel = pristine.relativize(f).toString();
                    boolean same = java.util.Arrays.equals(Files.readAllBytes(f), Files.readAllBytes(arrived.resolve(rel)));
                    if (rel.startsWith("base/1/") || rel.startsWith("global/") || rel.endsWith("_init")) {
                        assertTrue(same, rel + " is whole again");
                    }
                }
                assertTrue(Files.size(arrived.resolve(accounts)) == Files.size(pristine.resolve(accounts))
                        && !java.util.Arrays.equals(Files.readAllBytes(pristine.resolve(accounts)),
                        Files.readAllBytes(arrived.resolve(accounts))), "pgbench_accounts is left out, at its length");

                SourceWal.Checkpoint ck = SourceWal.lastCheckpoint(c, arrived);
                TimelineId tl = store.timelines().adopt(streamed.timeline(), null, Lsn.INVALID, 1).id();
                store.wal().append(List.of(SourceWal.append(c, arrived, tl, SourceWal.segmentStart(ck.redo()), ck.redo(), ck.end())));
                // pgbench_accounts' fork is read from the directory (as a fork PostgreSQL wrote would be): written back first
                DataDirectoryLayout.Segment segment = DataDirectoryLayout.relationSegment(accounts);
                streamed.fillBeforeRead(segment.fork(), List.of(arrived.resolve(accounts)));
                assertEquals(java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256")
                                .digest(Files.readAllBytes(pristine.resolve(accounts)))),
                        java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256")
                                .digest(Files.readAllBytes(arrived.resolve(accounts)))), "written back from the store");
                store.images().importDataDirectory(tl, arrived, ck.lsn(), ck.redo(), RelationFilter.all(),
                        ImportProgress.NONE, streamed);
                assertMaterializesAs(pristine, c, store, tl, ck);
            }
        }
    }

    @Test
    void aPieceLeftOutThatFailsItsChecksIsWrittenBackAsItCameAndFailsTheImage() throws Exception {
        try (PgCluster c = PgCluster.initdb(); Store store = Store.open(tmp.resolve("store"))) {
            String accounts = stoppedPgbench(c);
            Path arrived = c.dataDir();
            try (RandomAccessFile f = new RandomAccessFile(arrived.resolve(accounts).toFile(), "rw")) {
                f.seek(5L * WalGeometry.BLCKSZ + 12); // block 5's pd_lower and pd_upper, as it arrives
                f.writeInt(0x7fff7fff);
            }
            StreamedPages streamed = store.images().streamPages();
            try (streamed) {
                streamLeavingOut(c, arrived, streamed);
                streamed.fillForRecovery(arrived);
                SourceWal.Checkpoint ck = SourceWal.lastCheckpoint(c, arrived);
                TimelineId tl = store.timelines().adopt(streamed.timeline(), null, Lsn.INVALID, 1).id();
                // without the piece's bytes kept, the fork would read as zeros (new pages) and be stored so
                CorruptPageException e = assertThrows(CorruptPageException.class, () -> store.images().importDataDirectory(tl,
                        arrived, ck.lsn(), ck.redo(), RelationFilter.all(), ImportProgress.NONE, streamed));
                assertTrue(e.getMessage().contains(accounts), e.getMessage());
                assertEquals(0, store.stats().entries("pages"), "neither streamed nor read pages are left");
            }
        }
    }

    @Test
    void aFileLeftOutThatPostgresChangedInPlaceIsRefused() throws Exception {
        try (PgCluster c = PgCluster.initdb(); Store store = Store.open(tmp.resolve("store"))) {
            String accounts = stoppedPgbench(c);
            Path arrived = c.dataDir();
            StreamedPages streamed = store.images().streamPages();
            try (streamed) {
                streamLeavingOut(c, arrived, streamed);
                streamed.fillForRecovery(arrived);
                try (RandomAccessFile f = new RandomAccessFile(arrived.resolve(accounts).toFile(), "rw")) {
                    f.seek(f.length());
                    f.write(new byte[WalGeometry.BLCKSZ]); // a page added where the rest is holes
                }
                SourceWal.Checkpoint ck = SourceWal.lastCheckpoint(c, arrived);
                TimelineId tl = store.timelines().adopt(streamed.timeline(), null, Lsn.INVALID, 1).id();
                dev.zenith.storage.failure.StoreException e = assertThrows(dev.zenith.storage.failure.StoreException.class,
                        () -> store.images().importDataDirectory(tl, arrived, ck.lsn(), ck.redo(), RelationFilter.all(),
                                ImportProgress.NONE, streamed));
                assertTrue(e.getMessage().contains("left sparse"), e.getMessage());
                assertTrue(store.images().of(tl).isEmpty());
            }
        }
    }

    /**
     * pgbench's tables at scale 1 (and {@code template1Sql} run in template1), stopped; pgbench_accounts' file. Its WAL
     * switches to a new segment first, so the last checkpoint's segment holds only that checkpoint, as a quiet
     * cluster's base backup's WAL does.
     */
    private static String stoppedPgbench(PgCluster c, String... template1Sql) throws IOException {
        c.start();
        c.pgbench("-i", "-s", "1", "-q");
        for (String sql : template1Sql) {
            c.psql("template1", sql);
        }
        String accounts = c.psql("select pg_relation_filepath('pgbench_accounts')");
        c.psql("select pg_switch_wal()");
        c.stop();
        return accounts;
    }

    private static void assertMaterializesAs(Path expected, PgCluster c, Store store, TimelineId tl, SourceWal.Checkpoint ck)
            throws IOException {
        Path materialized = c.scratch("materialized");
        store.images().materialize(tl, ck.lsn(), materialized);
        int compared = DirectoryTrees.assertSameContent(expected, materialized, DirectoryTrees::skippedByBaseBackup);
        assertTrue(compared > 900, "files compared: " + compared);
    }

    private static List<Path> relationFiles(Path dir) throws IOException {
        try (Stream<Path> s = Files.walk(dir)) {
            return s.filter(Files::isRegularFile).filter(f -> StreamedPages.isRelationFile(dir.relativize(f).toString()))
                    .sorted().toList();
        }
    }

    /**
     * As {@link #stream}, leaving out of each relation file (rewritten in place, at its length) what {@code streamed}
     * lets an unpacking leave out, as {@code TarUnpacker} does.
     */
    private static void streamLeavingOut(PgCluster c, Path dir, StreamedPages streamed) throws IOException {
        // a stopped cluster's pg_wal, as a data directory's import copies it: the checkpoint's segment, then a recycled
        // one holding old WAL (its valid WAL ends before the last segment: not followed, it would mean every file)
        Lsn checkpoint = SourceWal.lastCheckpoint(c, dir).redo();
        Path walDir = dir.resolve("pg_wal");
        Path next = walDir.resolve(dev.zenith.wal.segment.WalSegments.fileName(1,
                dev.zenith.wal.segment.WalSegments.segmentNumber(checkpoint) + 1));
        if (!Files.exists(next)) {
            Files.copy(walDir.resolve(dev.zenith.wal.segment.WalSegments.fileName(1, checkpoint)), next);
        }
        for (Path f : relationFiles(dir)) {
            String rel = dir.relativize(f).toString();
            byte[] content = Files.readAllBytes(f);
            try (RandomAccessFile out = new RandomAccessFile(f.toFile(), "rw")) {
                out.setLength(0);
                for (int offset = 0; offset < content.length; offset += StreamedPages.BUFFER_BYTES) {
                    int n = Math.min(StreamedPages.BUFFER_BYTES, content.length - offset);
                    byte[] buffer = streamed.buffer();
                    System.arraycopy(content, offset, buffer, 0, n);
                    boolean leftOut = streamed.mayLeaveOut(rel);
                    if (!leftOut) {
                        out.seek(offset);
                        out.write(buffer, 0, n);
                    }
                    streamed.pages(rel, offset, buffer, n, leftOut);
                }
                out.setLength(content.length);
            }
            streamed.fileWritten(rel, f);
        }
        streamed.finish();
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
