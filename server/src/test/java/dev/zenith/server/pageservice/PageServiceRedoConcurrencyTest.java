package dev.zenith.server.pageservice;

import dev.zenith.protocol.pagestream.GetPageRequest;
import dev.zenith.protocol.pagestream.GetPageResponse;
import dev.zenith.protocol.pagestream.GetSlruSegmentRequest;
import dev.zenith.protocol.pagestream.SlruSegmentResponse;
import dev.zenith.protocol.pagestream.PagestreamResponse;
import dev.zenith.protocol.pagestream.PagestreamVersion;
import dev.zenith.protocol.pagestream.RelationKey;
import dev.zenith.protocol.pagestream.RequestHeader;
import dev.zenith.server.testing.AsyncPageClient;
import dev.zenith.server.testing.CheckedVertx;
import dev.zenith.server.testing.DaemonFixture;
import dev.zenith.wal.Lsn;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

import static org.junit.jupiter.api.Assertions.*;

/**
 * A GetPage or GetSlruSegment that takes a redo run does not hold a page-service worker: with one worker, a
 * page whose stored version is exact at a historical LSN (no change since, by the page index) is answered on
 * another connection while the run is under way, and is the page PostgreSQL wrote; the redo run's answer comes after.
 */
@Tag("pg")
class PageServiceRedoConcurrencyTest {
    @Test
    void anExactHistoricalReadIsAnsweredWhileARedoRunIsUnderWay() throws Exception {
        Vertx vertx = CheckedVertx.create();
        try (DaemonFixture d = new DaemonFixture()) {
            d.pgSettings.put("replication_password", "concurrency-secret");
            d.pageServiceSettings.put("workers", 1);
            d.computeSettings.put("autovacuum", "off"); // nothing but pgbench changes pages after the stop
            d.startInProcess();
            JsonObject pg = d.createPg("main");
            int port = pg.getInteger("port");
            d.pgbench(port, "-i", "-s", "1", "-q");
            d.psql(port, "CREATE TABLE quiet AS SELECT g AS x, repeat('q', 100) AS pad FROM generate_series(1, 1000) g");
            d.psql(port, "VACUUM (FREEZE, ANALYZE) quiet");
            int db = Integer.parseInt(d.psql(port, "SELECT oid FROM pg_database WHERE datname = 'postgres'").trim());
            int quiet = Integer.parseInt(d.psql(port, "SELECT pg_relation_filenode('quiet')").trim());
            int branches = Integer.parseInt(d.psql(port, "SELECT pg_relation_filenode('pgbench_branches')").trim());
            d.action("main", "stop");
            pg = d.pg("main");
            byte[] quietOnDisk = block0(Path.of(pg.getString("pgdata")).resolve("base/" + db + "/" + quiet));
            Lsn stopped = Lsn.parse(pg.getString("last_lsn"));
            d.action("main", "start");
            d.pgbench(port, "-n", "-c", "2", "-t", "75");
            Lsn historical = Lsn.parse(d.psql(port, "SELECT pg_current_wal_flush_lsn()").trim());
            d.pgbench(port, "-n", "-c", "2", "-t", "25"); // the LSN is history now, between the images
            String tenant = ((JsonObject) d.ok(200, "GET", "/storages/local", null)).getString("tenant_id");
            String timeline = pg.getString("timeline_id");
            Path scratch = d.home.resolve("redo");

            AsyncPageClient redoClient = await(AsyncPageClient.connect(vertx, d.pgPort, "zenith", "concurrency-secret"));
            AsyncPageClient exactClient = await(AsyncPageClient.connect(vertx, d.pgPort, "zenith", "concurrency-secret"));
            await(redoClient.openStream(PagestreamVersion.V3, tenant, timeline));
            await(exactClient.openStream(PagestreamVersion.V3, tenant, timeline));
            // pgbench changed every branch row since the stop: this page at that LSN takes a redo run.
            Future<PagestreamResponse> byRedo = redoClient.request(getPage(1, historical, db, branches));
            PagestreamResponse exact = exactReadDuring(byRedo, scratch, () -> exactClient.request(getPage(2, historical, db, quiet)));
            assertArrayEquals(quietOnDisk, ((GetPageResponse) exact).page(), "quiet's block 0 at " + historical);

            PagestreamResponse redone = await(byRedo);
            byte[] page = ((GetPageResponse) redone).page();
            long pdLsn = pdLsn(page);
            assertTrue(pdLsn > stopped.value() && pdLsn <= ((historical.value() + 7) & ~7L),
                    "pgbench_branches block 0 at " + historical + " has pd_lsn " + Lsn.of(pdLsn));

            // An SLRU segment between the images is a redo run too (pg_xact at that LSN), and holds no worker either.
            Future<PagestreamResponse> slruByRedo = redoClient.request(
                    new GetSlruSegmentRequest(new RequestHeader(3, historical, historical), 0, 0));
            exact = exactReadDuring(slruByRedo, scratch, () -> exactClient.request(getPage(4, historical, db, quiet)));
            assertArrayEquals(quietOnDisk, ((GetPageResponse) exact).page(), "quiet's block 0 at " + historical);
            PagestreamResponse slru = await(slruByRedo);
            assertInstanceOf(SlruSegmentResponse.class, slru, "pg_xact/0000 at " + historical + ": " + slru);
            assertTrue(((SlruSegmentResponse) slru).blocks() > 0, "pg_xact/0000 at " + historical + " has no pages");
            await(redoClient.close());
            await(exactClient.close());
        } finally {
            vertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
        }
    }

    /**
     * Waits until a redo run is under way for {@code byRedo}, then sends the exact read and checks that its
     * answer came while the run was still under way; the exact read's answer.
     */
    private static PagestreamResponse exactReadDuring(Future<PagestreamResponse> byRedo, Path scratch,
                                                      Supplier<Future<PagestreamResponse>> exactRead) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(2);
        while (!runUnderWay(scratch)) {
            assertTrue(System.nanoTime() < deadline && !byRedo.isComplete(), "no redo run was seen under way: " + byRedo);
            Thread.sleep(2);
        }
        PagestreamResponse exact = await(exactRead.get());
        assertFalse(byRedo.isComplete(), "the redo run ended before the exact read was answered: nothing shown");
        assertTrue(runUnderWay(scratch), "the redo run ended before the exact read was answered: nothing shown");
        return exact;
    }

    private static GetPageRequest getPage(long reqid, Lsn lsn, int db, int rel) {
        return new GetPageRequest(new RequestHeader(reqid, lsn, lsn), new RelationKey(1663, db, rel, 0), 0);
    }

    private static boolean runUnderWay(Path scratch) throws IOException {
        if (!Files.isDirectory(scratch)) {
            return false;
        }
        try (var runs = Files.newDirectoryStream(scratch, "run-*")) {
            return runs.iterator().hasNext();
        }
    }

    private static byte[] block0(Path file) throws IOException {
        try (FileChannel ch = FileChannel.open(file)) {
            ByteBuffer b = ByteBuffer.allocate(8192);
            while (b.hasRemaining() && ch.read(b) >= 0) {
                // read the whole block
            }
            return Arrays.copyOf(b.array(), 8192);
        }
    }

    private static long pdLsn(byte[] page) {
        ByteBuffer h = ByteBuffer.wrap(page, 0, 8).order(ByteOrder.LITTLE_ENDIAN);
        return ((h.getInt() & 0xFFFFFFFFL) << 32) | (h.getInt() & 0xFFFFFFFFL);
    }

    private static <T> T await(Future<T> f) throws Exception {
        return f.toCompletionStage().toCompletableFuture().get(3, TimeUnit.MINUTES);
    }
}
