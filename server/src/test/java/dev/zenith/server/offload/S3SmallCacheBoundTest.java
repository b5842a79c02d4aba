package dev.zenith.server.offload;

import dev.zenith.server.testing.DaemonFixture;
import dev.zenith.testkit.S3ProxyExtension;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The smallest cache bound ({@link OffloadSettings#SMALLEST_CACHE_BYTES}, 16 MiB): an s3 storage under it creates its pg and keeps a database four times its bound usable (pg
 * start, a branch at a snapshot built from the materialized versions, queries) within the bound. Three things stopped it: `PUT
 * /pgs` answered 500 after 120 s (initdb's 7.6 MB of WAL, which S3 held only inside the first base, with no WAL piece
 * after it, was never evicted, so the image import waited for room at 9.8 of 12.6 MB); then the WAL of the load stayed
 * in the journal for good (4 MiB batches ask 8 MiB, and beside the 3 MB page index, never evicted, eviction could not
 * make that room: no anchor, no step); and a materialization step asking more than 90% of the bound (12 KiB per page)
 * never materialized ("cannot fit ... raise --cache-size" at each anchor): it now goes in parts that fit. And the
 * branch's image at its clean stop waited 120 s for room and was skipped: at 13.0 MB eviction had nothing more it may
 * evict (the page index and the pointers of evicted values), far above its target; at that floor a write now goes in
 * alone when it fits under the bound. The sizes after each phase are printed. LMDB's file (high water) reached 21.4-23.3
 * MB while a writer admitted right after an eviction's commit could not reuse the pages it freed (LMDB reuses them from
 * the second transaction after); with a commit after each eviction first it stays near the bound (16.85 and 16.28 MB in two runs).
 */
@Tag("s3")
@Tag("pg")
@Tag("slow")
class S3SmallCacheBoundTest {
    static final long BOUND = OffloadSettings.SMALLEST_CACHE_BYTES;
    @RegisterExtension
    static final S3ProxyExtension proxy = new S3ProxyExtension("zen");
    /** Held here: JUL keeps loggers weakly. */
    private static final Logger REDO = Logger.getLogger("dev.zenith.server.redo");
    private static final Logger COMPUTE = Logger.getLogger("dev.zenith.server.compute");
    private static final Logger OFFLOAD = Logger.getLogger("dev.zenith.server.offload");
    private static final Pattern STEP = Pattern.compile("materialized up to \\S+ \\((\\d+) pages\\)");

    @Test
    void theSmallestCacheCreatesAPgAndServesADatabaseFourTimesItsSize() throws Exception {
        List<String> redoLog = new CopyOnWriteArrayList<>();
        Handler handler = new Handler() {
            @Override
            public void publish(LogRecord r) {
                redoLog.add(r.getLevel() + " " + r.getMessage());
            }

            @Override
            public void flush() {
            }

            @Override
            public void close() {
            }
        };
        REDO.addHandler(handler);
        COMPUTE.addHandler(handler);
        OFFLOAD.addHandler(handler);
        try (DaemonFixture d = new DaemonFixture()) {
            d.offloadSettings.put("cache_bytes", BOUND);
            d.startInProcess();
            int port = S3TestStorages.mainOn(d, proxy.server(), "small"); // PUT /pgs answered 500 after 120 s
            long highest;
            long highestFile;
            String expected;
            S3TestStorages.UsedBytesSampler sampler = new S3TestStorages.UsedBytesSampler(d, "cloud");
            try {
                d.psql(port, "CREATE TABLE big (id int, v text)");
                for (int i = 0; i < 4; i++) {
                    d.psql(port, S3StorageCacheFullTest.insertRows(i * 9_000 + 1, (i + 1) * 9_000));
                }
                long dbSize = Long.parseLong(d.psql(port, "SELECT pg_database_size(current_database())"));
                assertTrue(dbSize >= 4 * BOUND, "the database is 4x the cache: " + dbSize);
                expected = d.psql(port, "SELECT count(*), sum(hashtext(v)::numeric) FROM big");
                phase(d, "loaded");
                d.psql(port, "CHECKPOINT"); // an anchor: the step from initdb's image takes every page written
                // a step of many parts (128 pages each under this bound): it asks far more than the bound in all
                int stepPages = awaitStep(redoLog, d, 10 * (int) (BOUND / 8 / dev.zenith.storage.lmdb.CacheRoom.STORED_PAGE_BYTES));
                System.out.println("a step of " + stepPages + " pages");
                phase(d, "materialized");
                d.ok(201, "PUT", "/snapshots", new JsonObject().put("name", "main@loaded").encode());

                d.action("main", "stop");
                d.action("main", "start"); // its own stopped directory
                assertEquals(expected, d.psql(port, "SELECT count(*), sum(hashtext(v)::numeric) FROM big"));
                phase(d, "restarted");
                // a data directory built from the store at the snapshot: the step's versions, most read back from S3
                JsonObject branch = (JsonObject) d.ok(201, "PUT", "/pgs", new JsonObject().put("name", "then")
                        .put("snapshot", "main@loaded").encode());
                assertEquals(expected, d.psql(branch.getInteger("port"), "SELECT count(*), sum(hashtext(v)::numeric) FROM big"));
                phase(d, "branched");
                d.psql(branch.getInteger("port"), "UPDATE big SET v = 'x' WHERE id % 1000 = 0");
                assertEquals("36", d.psql(branch.getInteger("port"), "SELECT count(*) FROM big WHERE v = 'x'"));
                // its clean stop keeps the stopped directory as an image: every page the update's scan touched, 9,000
                // pages through a cache whose floor (index and pointers) is most of it: this waited 120 s and was skipped
                long t0 = System.nanoTime();
                d.action("then", "stop");
                System.out.println("the branch's clean stop took " + (System.nanoTime() - t0) / 1_000_000 + " ms");
                phase(d, "branch stopped");
                assertTrue(redoLog.stream().anyMatch(l -> l.contains("after clean stop"))
                        && redoLog.stream().noneMatch(l -> l.contains("could not take an image after stop")), String.join("\n", redoLog));
            } finally {
                sampler.close();
                highest = sampler.highest();
                highestFile = sampler.highestFile();
            }
            JsonObject storage = (JsonObject) d.ok(200, "GET", "/storages/cloud", null);
            System.out.println("cache bound " + BOUND + ": highest used_bytes sampled " + highest + ", highest high_water_bytes "
                    + highestFile + ", size " + storage.getJsonObject("size") + ", offload " + storage.getJsonObject("offload"));
            redoLog.stream().filter(l -> l.contains("nothing more it may evict")).limit(3).forEach(System.out::println);
            assertTrue(highest <= BOUND, "the store stayed within its bound: " + highest);
            // near the bound, not at it: read transactions open across a freeing commit or fragmented free pages may still
            // extend the file (16.3-16.9 MB in three runs, 19.4 MB in a loaded CI run; 21.4 and 23.3 MB before eviction's
            // freed pages were settled before admission counted them as room)
            assertTrue(highestFile <= BOUND + BOUND / 4, "LMDB's file stayed near the bound: " + highestFile);
            assertTrue(redoLog.stream().noneMatch(l -> l.contains("cannot fit")), String.join("\n", redoLog));
        } finally {
            REDO.removeHandler(handler);
            COMPUTE.removeHandler(handler);
            OFFLOAD.removeHandler(handler);
        }
    }

    /** Prints the store's sizes after a phase: where LMDB's file (high water) grows past what it holds. */
    private static void phase(DaemonFixture d, String name) throws Exception {
        System.out.println(name + ": " + ((JsonObject) d.ok(200, "GET", "/storages/cloud", null)).getJsonObject("size"));
    }

    /** Waits (up to 6 minutes) for a materialization step of more than {@code pages} pages; its pages. */
    private static int awaitStep(List<String> redoLog, DaemonFixture d, int pages) throws Exception {
        long deadline = System.nanoTime() + 360_000_000_000L;
        while (System.nanoTime() < deadline) {
            for (String line : redoLog) {
                Matcher m = STEP.matcher(line);
                if (m.find() && Integer.parseInt(m.group(1)) > pages) {
                    return Integer.parseInt(m.group(1));
                }
            }
            Thread.sleep(500);
        }
        throw new AssertionError("no materialization step of more than " + pages + " pages in 6 minutes: " + String.join("\n", redoLog) + "\n"
                + ((JsonObject) d.ok(200, "GET", "/storages/cloud", null)).encode());
    }
}
