package dev.zenith.server.pageservice;

import dev.zenith.protocol.pagestream.*;
import dev.zenith.server.testing.AsyncPageClient;
import dev.zenith.server.testing.CheckedVertx;
import dev.zenith.server.testing.DaemonFixture;
import dev.zenith.wal.Lsn;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.Timeout;
import io.vertx.junit5.VertxExtension;
import io.vertx.junit5.VertxTestContext;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Requests whose not_modified_since lies beyond the stored WAL of a timeline a compute writes: they wait
 * for that WAL (and are then answered at the new end), or time out with an Error; requests behind them
 * keep their order; the stream goes on.
 */
@ExtendWith(VertxExtension.class)
@Tag("pg")
class PageServiceWaitTest {
    static final RelationKey PG_CLASS = new RelationKey(1663, 5, 1259, 0);

    DaemonFixture d;
    Vertx vertx; // the client side
    int computePort;
    String tenant;
    String timeline;

    @BeforeEach
    void runningPrimary() throws Exception {
        vertx = CheckedVertx.create();
        d = new DaemonFixture();
        d.pgSettings.put("replication_password", "wait-secret");
        d.pageServiceSettings.put("wait_lsn_timeout_ms", 3000);
        d.startInProcess();
        JsonObject pg = d.createPg("main");
        computePort = pg.getInteger("port");
        timeline = pg.getString("timeline_id");
        tenant = ((JsonObject) d.ok(200, "GET", "/storages/local", null)).getString("tenant_id");
    }

    @AfterEach
    void stop() throws Exception {
        vertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
        d.close();
    }

    Lsn storedEnd() throws Exception {
        return Lsn.parse(d.pg("main").getString("last_lsn"));
    }

    static NblocksRequest nblocks(long reqid, Lsn nms) {
        return new NblocksRequest(new RequestHeader(reqid, RequestHeader.LATEST, nms), PG_CLASS);
    }

    @Test
    @Timeout(value = 2, timeUnit = TimeUnit.MINUTES)
    void aRequestWaitsForTheWalItNeedsAndTheOnesBehindItKeepTheirPlace(VertxTestContext ctx) throws Exception {
        Lsn end = storedEnd();
        Lsn ahead = end.plus(64);
        AtomicBoolean walWritten = new AtomicBoolean();
        AsyncPageClient.connect(vertx, d.pgPort, "zenith", "wait-secret").compose(c -> c.openStream(PagestreamVersion.V3, tenant, timeline).compose(v -> {
            Future<PagestreamResponse> waiting = c.request(nblocks(1, ahead));
            Future<PagestreamResponse> behind = c.request(nblocks(2, Lsn.INVALID));
            // Neither comes before the WAL does: the second is behind the first.
            vertx.setTimer(1000, t -> ctx.verify(() -> {
                assertFalse(waiting.isComplete(), "answered before its WAL arrived: " + waiting.result());
                assertFalse(behind.isComplete(), "an answer overtook an earlier request");
                walWritten.set(true);
                vertx.executeBlocking(() -> d.psql(computePort, "CREATE TABLE t AS SELECT 1 AS x"));
            }));
            return Future.all(waiting, behind).map(all -> {
                ctx.verify(() -> {
                    assertTrue(walWritten.get());
                    // Answered once the WAL came (not a timeout, not an error): pg_class's size from the page
                    // index, which the question waited to cover.
                    PagestreamResponse answer = waiting.result();
                    assertTrue(answer instanceof NblocksResponse, answer.toString());
                    assertTrue(((NblocksResponse) answer).blocks() > 0, answer.toString());
                    assertEquals(2, behind.result().header().requestId()); // answered long ago, written in its turn
                });
                return c;
            });
        })).compose(c -> c.close()).onComplete(ctx.succeedingThenComplete());
    }

    @Test
    @Timeout(value = 2, timeUnit = TimeUnit.MINUTES)
    void walThatDoesNotComeTimesOutAndTheStreamGoesOn(VertxTestContext ctx) throws Exception {
        Lsn farAhead = storedEnd().plus(1L << 30);
        long started = System.nanoTime();
        AsyncPageClient.connect(vertx, d.pgPort, "zenith", "wait-secret").compose(c -> c.openStream(PagestreamVersion.V3, tenant, timeline)
                .compose(v -> c.request(nblocks(1, farAhead)))
                .compose(answer -> {
                    ctx.verify(() -> {
                        String m = ((PagestreamErrorResponse) answer).message();
                        assertTrue(m.startsWith("timed out after 3000 ms waiting for WAL up to " + farAhead), m);
                        assertTrue(System.nanoTime() - started >= TimeUnit.MILLISECONDS.toNanos(3000));
                        assertEquals(1, answer.header().requestId());
                    });
                    return c.request(nblocks(2, Lsn.INVALID));
                })
                .compose(answer -> {
                    ctx.verify(() -> assertEquals(2, answer.header().requestId()));
                    return c.close();
                })).onComplete(ctx.succeedingThenComplete());
    }
}
