package dev.zenith.storage.image;

import dev.zenith.storage.Store;
import dev.zenith.storage.lmdb.ColdValues;
import dev.zenith.storage.lmdb.EvictedToMemory;
import dev.zenith.storage.lmdb.ReaderAtDownload;
import dev.zenith.storage.page.PageLayout;
import dev.zenith.storage.page.PageVersion;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.testkit.PgCluster;
import dev.zenith.wal.ForkNumber;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.RelFileNode;
import dev.zenith.wal.RelTag;
import dev.zenith.wal.segment.WalGeometry;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.RandomAccessFile;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * An image taken over page versions evicted to S3 (an s3 storage's clean stop): the stored versions it compares
 * with are downloaded outside LMDB's write transaction, so while a download hangs other writers (WAL commits,
 * eviction) commit; a version stored meanwhile is compared with again, not overwritten or taken for the old one.
 * The segment source is a map standing for the storage's prefix (the server's s3 tests use a real S3 server),
 * its first download held until the test lets it go.
 */
@Tag("pg")
class ImageOverEvictedPagesTest {
    /** Generous: the machine may be very busy. */
    private static final long WAIT_SECONDS = 120;

    @TempDir
    Path tmp;

    @Test
    void aDownloadForTheImageDoesNotHoldTheWriterAndAVersionStoredMeanwhileIsComparedWith() throws Exception {
        ExecutorService threads = Executors.newFixedThreadPool(2);
        CountDownLatch downloading = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        try (PgCluster c = PgCluster.initdb(); Store store = Store.open(tmp.resolve("store"))) {
            try {
                c.start();
                c.psql("create table items(id int primary key, v text); insert into items select g, md5(g::text) from generate_series(1, 2000) g");
                String path = c.psql("select pg_relation_filepath('items')").trim();
                c.stop();
                SourceWal.Checkpoint ck = SourceWal.lastCheckpoint(c);
                TimelineId tl = store.timelines().create(null, Lsn.INVALID, 1).id();
                store.wal().append(List.of(SourceWal.append(c, tl, SourceWal.segmentStart(ck.redo()), ck.redo(), ck.end())));
                ImportStats first = store.images().importDataDirectory(tl, c.dataDir(), ck.lsn(), ck.redo(), RelationFilter.all());
                assertTrue(first.pagesRead() < DataDirectoryImporter.PAGES_PER_TXN,
                        "the directory is one batch, so the version stored below is written while that batch compares: " + first);

                // every page version evicted; the source's first download waits for the test
                ColdValues cold = store.coldValues();
                EvictedToMemory.evictAll(cold, () -> {
                    downloading.countDown();
                    try {
                        release.await(WAIT_SECONDS, TimeUnit.SECONDS);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                });

                // the same directory again: every page compares with an evicted version
                Future<ImportStats> second = threads.submit(() -> store.images().importDataDirectory(tl, c.dataDir(), ck.lsn(),
                        ck.redo(), RelationFilter.all()));
                assertTrue(downloading.await(WAIT_SECONDS, TimeUnit.SECONDS), "the image downloads an evicted version");

                // while that download hangs, a version of items' block 0 newer than the one the image compares with
                RelTag items = new RelTag(new RelFileNode(1663, Integer.parseInt(path.split("/")[1]),
                        Integer.parseInt(path.split("/")[2])), ForkNumber.MAIN);
                byte[] onDisk = block0(c.dataDir().resolve(path));
                Lsn pageLsn = PageLayout.pageLsn(onDisk);
                Lsn meanwhile = pageLsn.plus(8);
                assertTrue(meanwhile.isBefore(ck.lsn()), pageLsn + " vs the checkpoint " + ck.lsn());
                byte[] other = onDisk.clone();
                other[WalGeometry.BLCKSZ - 1] ^= 0x01;
                Future<?> write = threads.submit(() -> store.pages().put(tl, items, 0, meanwhile, other));
                try {
                    write.get(WAIT_SECONDS, TimeUnit.SECONDS);
                } catch (TimeoutException e) {
                    fail("a write waited " + WAIT_SECONDS + " s for the image's download: it holds LMDB's writer");
                }
                assertFalse(second.isDone(), "the image still waits for its download");
                release.countDown();

                ImportStats stats = second.get(WAIT_SECONDS, TimeUnit.SECONDS);
                assertTrue(cold.fetchedValues() > 0, "compared with downloaded versions");
                assertEquals(1, stats.pagesStored(), "only block 0, which a version stored meanwhile made differ: " + stats);
                PageVersion newest = store.pages().get(tl, items, 0, ck.lsn()).orElseThrow();
                assertEquals(ck.lsn(), newest.lsn(), "keyed by the image's LSN, above the version stored meanwhile");
                assertArrayEquals(onDisk, newest.page());
                assertArrayEquals(other, store.pages().get(tl, items, 0, meanwhile).orElseThrow().page(),
                        "the version stored meanwhile is kept");
            } finally { // before the store closes under them
                release.countDown();
                threads.shutdown();
                threads.awaitTermination(WAIT_SECONDS, TimeUnit.SECONDS);
            }
        }
    }

    /**
     * The versions an image compares with are downloaded with no read transaction open: the one the comparison ran in
     * was open across the downloads (about 4 s at an s3 storage's clean stop), and kept every page eviction freed
     * meanwhile from reuse, so the writes admitted then grew LMDB's file past the cache bound (+9 MB at 48 MiB).
     */
    @Test
    void theVersionsAnImageComparesWithAreDownloadedWithNoReadTransactionOpen() throws Exception {
        try (PgCluster c = PgCluster.initdb(); Store store = Store.open(tmp.resolve("store"))) {
            c.start();
            c.psql("create table items(id int primary key, v text); insert into items select g, md5(g::text) from generate_series(1, 2000) g");
            c.stop();
            SourceWal.Checkpoint ck = SourceWal.lastCheckpoint(c);
            TimelineId tl = store.timelines().create(null, Lsn.INVALID, 1).id();
            store.wal().append(List.of(SourceWal.append(c, tl, SourceWal.segmentStart(ck.redo()), ck.redo(), ck.end())));
            store.images().importDataDirectory(tl, c.dataDir(), ck.lsn(), ck.redo(), RelationFilter.all());

            ColdValues cold = store.coldValues();
            ReaderAtDownload probe = new ReaderAtDownload(cold, store.cacheRoom());
            EvictedToMemory.evictAll(cold, probe);
            // a filler for the probe's eviction to free while the first download runs
            byte[] page = new byte[WalGeometry.BLCKSZ];
            java.util.Random random = new java.util.Random(3);
            RelTag filler = new RelTag(new RelFileNode(1663, 5, 999_999), ForkNumber.MAIN);
            for (int b = 0; b < 200; b++) {
                random.nextBytes(page);
                store.pages().put(tl, filler, b, ck.lsn(), page);
            }

            ImportStats again = store.images().importDataDirectory(tl, c.dataDir(), ck.lsn(), ck.redo(), RelationFilter.all());
            assertTrue(cold.fetchedValues() > 0, "compared with downloaded versions");
            assertEquals(0, again.pagesStored(), "the same directory: nothing new to store: " + again);
            assertTrue(probe.freedAtFirstDownload() > 0, "the probe's eviction freed pages: " + probe.freedAtFirstDownload());
            assertEquals(0, probe.pinnedAtFirstDownload(), "no read transaction was open across the download");
        }
    }

    private static byte[] block0(Path file) throws Exception {
        byte[] page = new byte[WalGeometry.BLCKSZ];
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "r")) {
            f.readFully(page);
        }
        return page;
    }
}
