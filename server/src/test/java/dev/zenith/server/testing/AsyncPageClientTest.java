package dev.zenith.server.testing;

import dev.zenith.protocol.pagestream.NblocksRequest;
import dev.zenith.protocol.pagestream.NblocksResponse;
import dev.zenith.protocol.pagestream.PagestreamResponse;
import dev.zenith.protocol.pagestream.PagestreamVersion;
import dev.zenith.protocol.pagestream.RelationKey;
import dev.zenith.protocol.pagestream.RequestHeader;
import dev.zenith.wal.Lsn;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertInstanceOf;

/**
 * The test page client keeps its stream through garbage collections: Vert.x closes a NetClient that became garbage,
 * with every connection it made, so a client that dropped its NetClient after connecting lost its stream at the
 * next GC (LatestReadsUnderWritesTest then waited 3 minutes for an answer on a closed connection, 1 run in 3).
 */
@Tag("pg")
@Tag("slow")
class AsyncPageClientTest {
    private static final RelationKey PG_CLASS = new RelationKey(1663, 5, 1259, 0);

    @Test
    void aStreamOutlivesGarbageCollections() throws Exception {
        Vertx vertx = CheckedVertx.create();
        try (DaemonFixture d = new DaemonFixture()) {
            d.pgSettings.put("replication_password", "gc-secret");
            d.startInProcess();
            JsonObject pg = d.createPg("main");
            String tenant = ((JsonObject) d.ok(200, "GET", "/storages/local", null)).getString("tenant_id");
            AsyncPageClient c = await(AsyncPageClient.connect(vertx, d.pgPort, "zenith", "gc-secret"));
            await(c.openStream(PagestreamVersion.V3, tenant, pg.getString("timeline_id")));
            System.gc(); // a NetClient that became garbage is now phantom reachable: its cleaner shuts it down
            // ... with a grace of 30 s, after which its connections are closed: the stream must go on past that
            long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(40);
            for (int i = 0; System.nanoTime() < until; i++) {
                PagestreamResponse r = await(c.request(new NblocksRequest(new RequestHeader(i, RequestHeader.LATEST,
                        Lsn.INVALID), PG_CLASS)));
                assertInstanceOf(NblocksResponse.class, r, "request " + i + " after a garbage collection: " + r);
                Thread.sleep(2000);
            }
            await(c.close());
        } finally {
            vertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
        }
    }

    private static <T> T await(Future<T> f) throws Exception {
        return f.toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
    }
}
