package dev.zenith.server.offload;

import dev.zenith.server.testing.DaemonFixture;
import dev.zenith.server.testing.RawPageClient;
import dev.zenith.testkit.S3ProxyExtension;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A GetPage whose page is only in S3 (an evicted value whose segment is not in memory) must not hold the page
 * I/O thread that serves its connection: with S3Proxy stopped, such a read waits for S3 while GetPage of
 * resident blocks on other connections of the same (only) I/O thread keeps being answered; with S3Proxy back,
 * the cold reads answer the exact pages (or, past the retry budget, a clear error, never a wrong page).
 */
@Tag("s3")
@Tag("pg")
class S3ColdPageFetchTest {
    static final long BOUND = 24L << 20;
    private static final int BLOCKS = 40;
    @RegisterExtension
    static final S3ProxyExtension proxy = new S3ProxyExtension("zen");

    @Test
    void aColdPageWaitsForS3WhileTheSameIoThreadAnswersOtherConnections() throws Exception {
        ExecutorService readers = Executors.newCachedThreadPool();
        try (DaemonFixture d = new DaemonFixture()) {
            d.offloadSettings.put("cache_bytes", BOUND);
            d.pgSettings.put("replication_password", "page-secret");
            d.pageServiceSettings.put("workers", 1); // every page connection on one I/O thread
            d.startInProcess();
            int port = S3TestStorages.mainOn(d, proxy.server(), "cold");
            // about 50 MB of incompressible rows: twice the cache bound
            d.psql(port, "CREATE TABLE big (id int, v text)");
            d.psql(port, S3StorageCacheFullTest.insertRows(1, 13_500));
            d.psql(port, S3StorageCacheFullTest.insertRows(13_501, 27_000));
            int db = Integer.parseInt(d.psql(port, "SELECT oid FROM pg_database WHERE datname = current_database()"));
            int rel = Integer.parseInt(d.psql(port, "SELECT pg_relation_filenode('big')"));
            d.action("main", "stop");
            JsonObject pg = d.pg("main");
            String timeline = pg.getString("timeline_id");
            Map<Integer, byte[]> reference = S3StorageValueEvictionTest.referencePages(
                    Path.of(pg.getString("pgdata")).resolve("base/" + db + "/" + rel), BLOCKS);
            JsonObject storage = d.awaitJson("/storages/cloud", j -> j.getJsonObject("offload").getLong("unuploaded_wal_bytes") == 0
                    && j.getJsonObject("offload").getLong("evicted_value_bytes") > 0
                    && j.getJsonObject("size").getLong("used_bytes") <= BOUND);
            String tenant = storage.getString("tenant_id");
            System.out.println("offload before S3 stops: " + storage.getJsonObject("offload"));
            // the last few blocks read once more: the warmest values, in LMDB or (read back) in memory
            List<Integer> warmed = new ArrayList<>(reference.keySet()).subList(BLOCKS - 4, BLOCKS);
            try (RawPageClient c = RawPageClient.login(d.pgPort, "zenith", "page-secret")) {
                c.openStream("v3", tenant, timeline);
                for (int block : warmed) {
                    c.sendCopy(RawPageClient.getPageV3(block, RawPageClient.LATEST, 0, 1663, db, rel, 0, block));
                    assertPage(reference.get(block), c.copyData(), block);
                }
            }

            proxy.server().stop();
            Map<Integer, CompletableFuture<ByteBuffer>> answers = new LinkedHashMap<>();
            List<RawPageClient> clients = new ArrayList<>();
            try {
                // one connection per block: a resident block answers at once, a cold one waits for S3
                for (int block : reference.keySet()) {
                    RawPageClient c = RawPageClient.login(d.pgPort, "zenith", "page-secret");
                    clients.add(c);
                    answers.put(block, CompletableFuture.supplyAsync(() -> getPage(c, tenant, timeline, db, rel, block), readers));
                }
                Thread.sleep(10_000);
                List<Integer> resident = new ArrayList<>();
                List<Integer> cold = new ArrayList<>();
                for (Map.Entry<Integer, CompletableFuture<ByteBuffer>> e : answers.entrySet()) {
                    (e.getValue().isDone() ? resident : cold).add(e.getKey());
                }
                System.out.println("with S3 stopped: answered " + resident + ", waiting " + cold);
                assertFalse(cold.isEmpty(), "some of the blocks are only in S3");
                assertTrue(resident.containsAll(warmed), "the resident blocks were answered while the cold ones wait for S3");
                for (int block : resident) {
                    assertPage(reference.get(block), answers.get(block).join(), block);
                }
                // a new connection, on the same I/O thread, while the cold reads still wait: answered at once
                int warm = warmed.get(0);
                ByteBuffer again = CompletableFuture.supplyAsync(() -> {
                    try (RawPageClient c = RawPageClient.login(d.pgPort, "zenith", "page-secret")) {
                        return getPage(c, tenant, timeline, db, rel, warm);
                    } catch (IOException e) {
                        throw new UncheckedIOException(e);
                    }
                }, readers).get(10, TimeUnit.SECONDS);
                assertPage(reference.get(warm), again, warm);
                for (int block : cold) {
                    assertFalse(answers.get(block).isDone(), "block " + block + " still waits for S3");
                }
            } finally {
                proxy.server().startAgain();
            }
            // S3 back: every cold read answers its exact page (or, past the retry budget, says why; asked again then)
            int retried = 0;
            for (Map.Entry<Integer, CompletableFuture<ByteBuffer>> e : answers.entrySet()) {
                int block = e.getKey();
                ByteBuffer answer = e.getValue().get(4, TimeUnit.MINUTES);
                if ((answer.get(0) & 0xFF) == 103) {
                    String why = RawPageClient.cstring(answer.position(25));
                    assertTrue(why.contains("evicted segment"), why);
                    retried++;
                    try (RawPageClient c = RawPageClient.login(d.pgPort, "zenith", "page-secret")) {
                        answer = getPage(c, tenant, timeline, db, rel, block);
                    }
                }
                assertPage(reference.get(block), answer, block);
            }
            System.out.println("cold reads answered after S3 came back (" + retried + " asked again after an error)");
            // the values read back go into the cache again while the bound leaves room (below where eviction starts)
            JsonObject after = d.awaitJson("/storages/cloud", j -> j.getJsonObject("offload").getLong("written_back_values") > 0);
            System.out.println("after: size " + after.getJsonObject("size") + ", offload " + after.getJsonObject("offload"));
            assertTrue(after.getJsonObject("size").getLong("used_bytes") <= BOUND, "within the bound: " + after.getJsonObject("size"));
            for (RawPageClient c : clients) {
                c.close();
            }
        } finally {
            readers.shutdownNow();
        }
    }

    /** Opens the stream on {@code c} and asks for one block at the latest LSN: the answer, Error or page. */
    private static ByteBuffer getPage(RawPageClient c, String tenant, String timeline, int db, int rel, int block) {
        try {
            c.openStream("v3", tenant, timeline);
            c.sendCopy(RawPageClient.getPageV3(block, RawPageClient.LATEST, 0, 1663, db, rel, 0, block));
            return c.copyData();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static void assertPage(byte[] expected, ByteBuffer answer, int block) throws IOException {
        ByteBuffer page = RawPageClient.v3Answer(answer.duplicate(), 102, block);
        assertArrayEquals(expected, Arrays.copyOfRange(page.array(), 42, 42 + 8192), "block " + block);
    }
}
