package dev.zenith.storage.image;

import dev.zenith.storage.Store;
import dev.zenith.storage.failure.StoreException;
import dev.zenith.storage.StoreStats;
import dev.zenith.storage.page.PageChecksum;
import dev.zenith.storage.page.PageLayout;
import dev.zenith.storage.page.PageVersion;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.wal.ForkNumber;
import dev.zenith.testkit.PgCluster;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.RelTag;
import dev.zenith.wal.segment.WalGeometry;
import dev.zenith.wal.segment.WalSegments;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.extension.ConditionEvaluationResult;
import org.junit.jupiter.api.extension.ExecutionCondition;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.TestWatcher;
import org.junit.jupiter.api.io.TempDir;

import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Images of a real cluster: import, materialize, byte-compare with the source, start PostgreSQL on
 * the result; a second, filtered image; the old image still materializes as it was; a corrupt
 * page is reported and stores nothing. One history, told in steps that build on each other (one
 * cluster and one store for the class): a failure names its step, and the steps after it are skipped.
 */
@Tag("pg")
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
@ExtendWith(ImageRoundTripTest.StepsInOrder.class)
class ImageRoundTripTest {
    @TempDir
    static Path tmp;
    PgCluster c;
    Store store;
    String accountsSum1;
    SourceWal.Checkpoint ck1;
    TimelineId tl;
    ImportStats first;
    Path copy1;
    Path mat1;
    SourceWal.Checkpoint ck2;
    String history2;
    String pgDatabasePath;
    String accountsSum2;
    String itemsPath;
    String branchesPath;
    Set<RelTag> changed;
    long pagesBefore;
    Path mat2;

    /** Skips the steps after a failed one: they would only fail for its reason. */
    static final class StepsInOrder implements TestWatcher, ExecutionCondition {
        private String failed; // one instance per class that registers it

        @Override
        public void testFailed(ExtensionContext context, Throwable cause) {
            failed = context.getDisplayName();
        }

        @Override
        public ConditionEvaluationResult evaluateExecutionCondition(ExtensionContext context) {
            return failed == null || context.getTestMethod().isEmpty() ? ConditionEvaluationResult.enabled("")
                    : ConditionEvaluationResult.disabled("an earlier step failed: " + failed);
        }
    }

    @BeforeAll
    void aClusterWithPgbenchAndASecondDatabase() throws Exception {
        c = PgCluster.initdb();
        store = Store.open(tmp.resolve("store"));
        c.configure(Map.of("wal_keep_size", "1GB"));
        c.start();
        c.pgbench("-i", "-s", "2", "-q");
        c.psql("create database second");
        c.psql("second", "create table items(id int primary key, v text);"
                + "insert into items select g, md5(g::text) from generate_series(1, 20000) g;"
                + "create index items_v on items(v); delete from items where id % 7 = 0");
        c.psql("second", "vacuum items");
        accountsSum1 = c.psql("select sum(abalance) from pgbench_accounts");
        c.stop();
    }

    @AfterAll
    void close() throws Exception {
        try (PgCluster cluster = c; Store s = store) {
            // both closed, the store first
        }
    }

    // ---- round 1: the whole directory

    @Test
    @Order(1)
    void walUpToTheCheckpointIsStored() throws Exception {
        ck1 = SourceWal.lastCheckpoint(c);
        tl = store.timelines().create(null, Lsn.INVALID, 1).id();
        store.wal().append(List.of(SourceWal.append(c, tl, SourceWal.segmentStart(ck1.redo()), ck1.redo(), ck1.end())));
        assertEquals(ck1.end(), store.wal().end(tl).orElseThrow());
        assertEquals(List.of(ck1.lsn()), store.changes().checkpoints(tl, Lsn.INVALID, ck1.end()));
    }

    @Test
    @Order(2)
    void theWholeDirectoryIsImported() throws Exception {
        long[] progress = new long[2]; // bytes announced, bytes reported read
        first = store.images().importDataDirectory(tl, c.dataDir(), ck1.lsn(), ck1.redo(), RelationFilter.all(),
                counting(progress));
        assertEquals(first.pagesRead() * WalGeometry.BLCKSZ, progress[0], "the bytes to read are announced: " + first);
        assertEquals(progress[0], progress[1], "and each batch read is reported");
        StoreStats afterFirst = store.stats();
        assertTrue(first.pagesRead() > 3000, "pgbench scale 2 has thousands of pages: " + first);
        assertEquals(afterFirst.entries("pages"), first.pagesStored());
        assertEquals(0, first.forksKept());
        copy1 = tmp.resolve("copy1");
        DirectoryTrees.copy(c.dataDir(), copy1);
    }

    @Test
    @Order(3)
    void theImageMaterializesAsTheSameDirectory() throws Exception {
        mat1 = c.scratch("mat1");
        store.images().materialize(tl, ck1.lsn(), mat1);
        int compared = DirectoryTrees.assertSameContent(c.dataDir(), mat1, DirectoryTrees::skippedByBaseBackup);
        assertTrue(compared > 900, "files compared: " + compared);
        assertFalse(Files.exists(mat1.resolve("postmaster.opts")));
        assertTrue(Files.isDirectory(mat1.resolve("pg_wal/archive_status")));
        assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(mat1.resolve("base"))));
    }

    @Test
    @Order(4)
    void postgresStartsOnTheMaterializedDirectoryAndSeesTheSameData() throws Exception {
        long[] walRead = new long[1];
        // as a compute's rebuild writes it: the segment's first page, then the stored WAL from the redo point's page on
        store.pgWal().writeSegmentsForRecovery(tl, ck1.redo(), ck1.end(), mat1.resolve("pg_wal"), bytes -> walRead[0] += bytes);
        assertEquals(store.pgWal().bytesToWrite(tl, ck1.redo(), ck1.end()), walRead[0], "WAL written adds up to its announced total");
        assertTrue(walRead[0] >= ck1.end().minus(ck1.redo()), walRead[0] + " bytes");
        long segment = WalSegments.segmentNumber(ck1.redo());
        int page = WalGeometry.XLOG_BLCKSZ;
        int redoPage = (int) (WalSegments.pageStart(ck1.redo().value()) - WalSegments.segmentStart(segment));
        assertTrue(redoPage > page, "the fixture's redo point lies past its segment's second page: " + ck1.redo());
        byte[] written = Files.readAllBytes(mat1.resolve("pg_wal").resolve(WalSegments.fileName(1, segment)));
        byte[] stored = store.wal().read(tl, Lsn.of(WalSegments.segmentStart(segment)),
                (int) Math.min(ck1.end().value() - WalSegments.segmentStart(segment), WalGeometry.WAL_SEGMENT_SIZE));
        assertArrayEquals(Arrays.copyOf(stored, page), Arrays.copyOf(written, page), "the first page, whose header PostgreSQL checks");
        assertArrayEquals(new byte[redoPage - page], Arrays.copyOfRange(written, page, redoPage), "nothing before the redo point's page");
        assertArrayEquals(Arrays.copyOfRange(stored, redoPage, stored.length), Arrays.copyOfRange(written, redoPage, stored.length));
        assertEquals(WalGeometry.WAL_SEGMENT_SIZE, written.length, "a whole segment");
        assertArrayEquals(new byte[written.length - stored.length], Arrays.copyOfRange(written, stored.length, written.length),
                "zeros after the end");
        // the zeros are holes: only the stored WAL took room (plus the file system's rounding)
        long allocated = allocatedBytes(mat1.resolve("pg_wal").resolve(WalSegments.fileName(1, segment)));
        long walBytes = page + stored.length - redoPage;
        assertTrue(allocated <= walBytes + 256 * 1024, allocated + " bytes allocated for " + walBytes + " bytes of WAL");
        try (MaterializedCompute pg = MaterializedCompute.start(c, mat1, "mat1")) {
            assertEquals("200000", pg.psql("postgres", "select count(*) from pgbench_accounts"));
            assertEquals(accountsSum1, pg.psql("postgres", "select sum(abalance) from pgbench_accounts"));
            assertEquals("17143", pg.psql("second", "select count(*) from items where v like '%'"));
            // this compute continues the history after round 1: it is a branch
            pg.psql("postgres", "update pgbench_accounts set abalance = abalance + 1 where aid <= 2000;"
                    + "create table branch_only as select g from generate_series(1, 5000) g");
        }
    }

    // ---- the branch: its WAL and an image of its directory, on top of the parent's pages

    @Test
    @Order(5)
    void aBranchImageStoresOnlyWhatTheBranchChanged() throws Exception {
        TimelineId branchTl = store.timelines().create(tl, ck1.end(), 1).id();
        SourceWal.Checkpoint ckB = SourceWal.lastCheckpoint(c, mat1);
        store.wal().append(List.of(SourceWal.append(c, mat1, branchTl, ck1.end(), ck1.end(), ckB.end())));
        Set<RelTag> branchChanged = store.changes().changedRelations(branchTl, ck1.lsn(), ckB.lsn());
        long branchPagesBefore = store.stats().entries("pages");
        ImportStats branchImport = store.images().importDataDirectory(branchTl, mat1, ckB.lsn(), ckB.redo(),
                RelationFilter.onlyTags(branchChanged));
        assertTrue(branchImport.forksKept() > 100, branchImport.toString());
        assertTrue(branchImport.pagesStored() > 0 && branchImport.pagesStored() < first.pagesStored() / 4,
                "a branch stores only what it changed: " + branchImport);
        assertEquals(branchPagesBefore + branchImport.pagesStored(), store.stats().entries("pages"));
        System.out.println("round 1 import: " + first + "\nbranch import: " + branchImport);
        Path matBranch = c.scratch("matBranch");
        store.images().materialize(branchTl, ckB.lsn(), matBranch);
        DirectoryTrees.assertSameContent(mat1, matBranch, DirectoryTrees::skippedByBaseBackup);
        assertEquals(ck1.lsn(), store.images().latestImageAtOrBefore(branchTl, ck1.end()).orElseThrow().lsn());
    }

    // ---- round 2: more writes, then only the relations WAL says changed

    @Test
    @Order(6)
    void moreWalIsStoredAndNamesTheChangedRelations() throws Exception {
        c.start();
        c.pgbench("-n", "-t", "300", "-c", "2");
        c.psql("second", "update items set v = v || 'x' where id <= 300");
        history2 = c.psql("select count(*) from pgbench_history");
        accountsSum2 = c.psql("select sum(abalance) from pgbench_accounts");
        pgDatabasePath = c.psql("select pg_relation_filepath('pg_database')");
        itemsPath = c.psql("second", "select pg_relation_filepath('items')");
        branchesPath = c.psql("select pg_relation_filepath('pgbench_branches')");
        c.stop();
        ck2 = SourceWal.lastCheckpoint(c);
        store.wal().append(List.of(SourceWal.append(c, tl, ck1.end(), ck1.end(), ck2.end())));
        assertArrayEquals(SourceWal.read(c.walDir(), ck1.redo(), 100_000), store.wal().read(tl, ck1.redo(), 100_000));
        assertTrue(store.changes().lastCommitAtOrBefore(tl, Instant.now()).orElseThrow().recordLsn().isAfter(ck1.end()));
        changed = store.changes().changedRelations(tl, ck1.lsn(), ck2.lsn());
        assertTrue(changed.stream().anyMatch(r -> itemsPath.equals(r.path())), "items changed: " + changed);
    }

    @Test
    @Order(7)
    void aCorruptPageIsReportedAndTheImportStoresNothing() throws Exception {
        // a corrupt page in global/ (read last, after more than one batch of base/ was committed)
        Path pgDatabase = c.dataDir().resolve(pgDatabasePath);
        assertTrue(pgDatabase.toString().contains("/global/"));
        byte original = flipByte(pgDatabase, 5000, (byte) 0);
        try {
            StoreStats beforeCorrupt = store.stats();
            CorruptPageException corrupt = assertThrows(CorruptPageException.class, () -> store.images().importDataDirectory(tl,
                    c.dataDir(), ck2.lsn(), ck2.redo(), RelationFilter.all()));
            assertEquals(pgDatabase, corrupt.file());
            assertEquals(0, corrupt.blockInFile());
            assertTrue(corrupt.getMessage().contains("checksum"), corrupt.getMessage());
            // empty LMDB commits do not advance the transaction id: pages were committed, then deleted
            assertTrue(store.stats().lastTransactionId() - beforeCorrupt.lastTransactionId() >= 2,
                    "the failed import had committed a batch before it found the corrupt page");
            pagesBefore = beforeCorrupt.entries("pages");
            assertEquals(pagesBefore, store.stats().entries("pages"), "a failed import stores no page");
            assertEquals(1, store.images().of(tl).size(), "a failed import stores no image");
        } finally {
            flipByte(pgDatabase, 5000, original);
        }
    }

    @Test
    @Order(8)
    void aFilteredImportReadsOnlyTheChangedRelationsAndCarriesTheRestOver() throws Exception {
        long[] secondProgress = new long[2];
        ImportStats second = store.images().importDataDirectory(tl, c.dataDir(), ck2.lsn(), ck2.redo(),
                RelationFilter.onlyTags(changed), counting(secondProgress));
        assertEquals(second.pagesRead() * WalGeometry.BLCKSZ, secondProgress[0], "only the changed forks' bytes: " + second);
        assertEquals(secondProgress[0], secondProgress[1]);
        assertTrue(second.forksKept() > 100, "unchanged relations are carried over: " + second);
        assertTrue(second.pagesStored() > 0 && second.pagesStored() < second.pagesRead(), second.toString());
        assertEquals(pagesBefore + second.pagesStored(), store.stats().entries("pages"));
        // reading everything again stores nothing new: every page is already there
        ImportStats again = store.images().importDataDirectory(tl, c.dataDir(), ck2.lsn(), ck2.redo(), RelationFilter.all());
        assertEquals(0, again.pagesStored(), again.toString());
        System.out.println("round 2 filtered import: " + second + "\nround 2 full re-import: " + again);
        assertEquals(again.pagesRead(), store.images().latestImageAtOrBefore(tl, ck2.lsn()).orElseThrow().totalBlocks());
    }

    @Test
    @Order(9)
    void theNewAndTheOldImageEachMaterializeAsTheirDirectory() throws Exception {
        mat2 = c.scratch("mat2");
        store.images().materialize(tl, ck2.lsn(), mat2);
        DirectoryTrees.assertSameContent(c.dataDir(), mat2, DirectoryTrees::skippedByBaseBackup);
        // the old image is still the old directory
        Path mat1again = c.scratch("mat1again");
        store.images().materialize(tl, ck1.lsn(), mat1again);
        DirectoryTrees.assertSameContent(copy1, mat1again, DirectoryTrees::skippedByBaseBackup);
        assertEquals(ck1.lsn(), store.images().latestImageAtOrBefore(tl, Lsn.of(ck2.lsn().value() - 1)).orElseThrow().lsn());
    }

    @Test
    @Order(10)
    void aBranchMadeAtTheEndOfRoundOneSeesRoundOnesImage() throws Exception {
        // not the parent's later one
        TimelineId branch = store.timelines().create(tl, ck1.end(), 1).id();
        ImageManifest branchImage = store.images().latestImageAtOrBefore(branch, ck2.end()).orElseThrow();
        assertEquals(ck1.lsn(), branchImage.lsn());
        assertArrayEquals(Files.readAllBytes(copy1.resolve("global/pg_control")), store.images().pgControl(branchImage));
        assertArrayEquals(Files.readAllBytes(copy1.resolve("PG_VERSION")),
                store.images().imageFile(branchImage, "PG_VERSION").orElseThrow());
    }

    @Test
    @Order(11)
    void postgresStartsOnTheSecondImageAndSeesRoundTwosData() throws Exception {
        store.pgWal().writeSegments(tl, ck2.redo(), ck2.end(), mat2.resolve("pg_wal"));
        try (MaterializedCompute pg = MaterializedCompute.start(c, mat2, "mat2")) {
            assertEquals(history2, pg.psql("postgres", "select count(*) from pgbench_history"));
            assertEquals(accountsSum2, pg.psql("postgres", "select sum(abalance) from pgbench_accounts"));
            // ids 1..300 minus the 42 multiples of 7 deleted in round 1
            assertEquals("258", pg.psql("second", "select count(*) from items where v like '%x'"));
        }
    }

    @Test
    @Order(12)
    void aPageWhoseContentChangedWhileItsLsnDidNotGetsANewVersion() throws Exception {
        // (as hint bits do)
        Path edited = tmp.resolve("edited");
        DirectoryTrees.copy(c.dataDir(), edited);
        byte[] unhinted = Files.readAllBytes(edited.resolve(branchesPath));
        byte[] page = java.util.Arrays.copyOf(unhinted, 8192);
        int lower = u16(page, 12);
        assertTrue(u16(page, 14) - lower > 8, "free space on the page");
        page[lower + 4] ^= 0x5A;
        int checksum = PageChecksum.compute(page, 0);
        page[8] = (byte) checksum;
        page[9] = (byte) (checksum >>> 8);
        assertEquals(PageLayout.pageLsn(unhinted), PageLayout.pageLsn(page));
        try (RandomAccessFile f = new RandomAccessFile(edited.resolve(branchesPath).toFile(), "rw")) {
            f.write(page);
        }
        Lsn later = ck2.end(); // a stand-in checkpoint after ck2 (never started, only materialized)
        String[] parts = branchesPath.split("/");
        RelTag branches = RelTag.of(1663, Integer.parseInt(parts[1]), Integer.parseInt(parts[2]), ForkNumber.MAIN);
        ImportStats hinted = store.images().importDataDirectory(tl, edited, later, later, RelationFilter.onlyTags(Set.of(branches)));
        assertEquals(1, hinted.pagesStored(), hinted.toString());
        PageVersion old = store.pages().get(tl, branches, 0, ck2.lsn()).orElseThrow();
        assertArrayEquals(java.util.Arrays.copyOf(unhinted, 8192), old.page());
        PageVersion changed2 = store.pages().get(tl, branches, 0, later).orElseThrow();
        assertEquals(later, changed2.lsn());
        assertArrayEquals(page, changed2.page());
        Path matLater = c.scratch("matLater");
        store.images().materialize(tl, later, matLater);
        DirectoryTrees.assertSameContent(edited, matLater, DirectoryTrees::skippedByBaseBackup);
        Path mat2again = c.scratch("mat2again");
        store.images().materialize(tl, ck2.lsn(), mat2again);
        DirectoryTrees.assertSameContent(c.dataDir(), mat2again, DirectoryTrees::skippedByBaseBackup);
    }

    @Test
    @Order(13)
    void readBlocksFromTheMiddleOfAForkAreTheFilesBytes() throws Exception {
        // (what a base backup streams)
        byte[] itemsFile = Files.readAllBytes(c.dataDir().resolve(itemsPath));
        int itemsBlocks = itemsFile.length / WalGeometry.BLCKSZ;
        assertTrue(itemsBlocks > 60, "items has " + itemsBlocks + " blocks");
        String[] ip = itemsPath.split("/");
        RelTag items = RelTag.of(1663, Integer.parseInt(ip[1]), Integer.parseInt(ip[2]), ForkNumber.MAIN);
        byte[] window = new byte[(itemsBlocks - 50) * WalGeometry.BLCKSZ];
        store.pages().readBlocks(tl, items, ck2.lsn(), 50, itemsBlocks - 50, true, window, 0);
        assertArrayEquals(java.util.Arrays.copyOfRange(itemsFile, 50 * WalGeometry.BLCKSZ, itemsFile.length), window);
        assertThrows(StoreException.class, () -> store.pages().readBlocks(tl, items, ck2.lsn(), itemsBlocks, 1, true, window, 0));
    }

    private static int u16(byte[] b, int off) {
        return (b[off] & 0xFF) | (b[off + 1] & 0xFF) << 8;
    }

    private static byte flipByte(Path file, long offset, byte replacement) throws Exception {
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            f.seek(offset);
            byte old = f.readByte();
            f.seek(offset);
            f.writeByte(replacement == 0 ? ~old : replacement);
            return old;
        }
    }

    /** An import's progress counted into {@code counts}: [0] the bytes it announces, [1] the bytes it reports read. */
    private static ImportProgress counting(long[] counts) {
        return new ImportProgress() {
            @Override
            public void toRead(long bytes) {
                counts[0] += bytes;
            }

            @Override
            public void read(long bytes) {
                counts[1] += bytes;
            }
        };
    }

    /** The room a file takes on disk (its allocated blocks), from stat(1). */
    private static long allocatedBytes(Path file) throws Exception {
        Process p = new ProcessBuilder("stat", "-c", "%b %B", file.toString()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.US_ASCII).trim();
        assertEquals(0, p.waitFor(), out);
        String[] f = out.split(" ");
        return Long.parseLong(f[0]) * Long.parseLong(f[1]);
    }
}
