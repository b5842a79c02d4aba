package dev.zenith.server.redo;

import dev.zenith.protocol.pagestream.GetPageRequest;
import dev.zenith.protocol.pagestream.GetPageResponse;
import dev.zenith.protocol.pagestream.NblocksRequest;
import dev.zenith.protocol.pagestream.NblocksResponse;
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

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * While pgbench writes to the compute, GetPages at the latest LSN (which take redo runs: pgbench changes the
 * branch, teller and account pages all the time, and join floating runs whose target is chosen when they start)
 * see every committed change: a row updated and committed is in the page fetched afterwards with request_lsn =
 * latest and not_modified_since = the commit's LSN, on one connection while three others read other changed
 * pages at the latest LSN at the same time.
 */
@Tag("pg")
@Tag("slow")
class LatestReadsUnderWritesTest {
    private static final int ROUNDS = 6;

    @Test
    void aCommittedUpdateIsInThePageReadAtTheLatestLsnWhilePgbenchWrites() throws Exception {
        Vertx vertx = CheckedVertx.create();
        try (DaemonFixture d = new DaemonFixture()) {
            d.pgSettings.put("replication_password", "latest-secret");
            d.startInProcess();
            JsonObject pg = d.createPg("main");
            int port = pg.getInteger("port");
            d.pgbench(port, "-i", "-s", "1", "-q");
            int db = Integer.parseInt(d.psql(port, "SELECT oid FROM pg_database WHERE datname = 'postgres'").trim());
            int branches = filenode(d, port, "pgbench_branches");
            int tellers = filenode(d, port, "pgbench_tellers");
            int accounts = filenode(d, port, "pgbench_accounts");
            String tenant = ((JsonObject) d.ok(200, "GET", "/storages/local", null)).getString("tenant_id");
            String timeline = pg.getString("timeline_id");
            List<AsyncPageClient> clients = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                AsyncPageClient c = await(AsyncPageClient.connect(vertx, d.pgPort, "zenith", "latest-secret"));
                await(c.openStream(PagestreamVersion.V3, tenant, timeline));
                clients.add(c);
            }

            CompletableFuture<String> writer = CompletableFuture.supplyAsync(() -> {
                try {
                    return d.pgbench(port, "-n", "-c", "2", "-T", "30");
                } catch (java.io.IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            });
            long reqid = 0;
            int duringWrites = 0;
            for (int round = 0; round < ROUNDS; round++) {
                duringWrites += writer.isDone() ? 0 : 1;
                String mark = "mark-" + round + "-" + Long.toHexString(System.nanoTime());
                d.psql(port, "UPDATE pgbench_branches SET filler = '" + mark + "' WHERE bid = 1");
                Lsn committed = Lsn.parse(d.psql(port, "SELECT pg_current_wal_flush_lsn()").trim());
                // the marked version is in some block of the branches: pgbench's two clients keep the one row's page
                // pinned, so an update finding it full (not pruned) goes to another block
                PagestreamResponse size = await(clients.get(0).request(new NblocksRequest(
                        new RequestHeader(reqid++, RequestHeader.LATEST, committed), new RelationKey(1663, db, branches, 0))));
                int blocks = assertInstanceOf(NblocksResponse.class, size, "round " + round + ": " + size).blocks();
                System.out.println("round " + round + ": " + blocks + " blocks of pgbench_branches at " + committed);
                List<Future<PagestreamResponse>> marked = new ArrayList<>();
                for (int b = 0; b < blocks; b++) {
                    marked.add(clients.get(0).request(latest(reqid++, committed, db, branches, b)));
                }
                List<Future<PagestreamResponse>> others = new ArrayList<>();
                for (int i = 1; i < clients.size(); i++) {
                    others.add(clients.get(i).request(latest(reqid++, committed, db, i == 1 ? tellers : accounts, i == 1 ? 0 : i)));
                }
                boolean found = false;
                for (Future<PagestreamResponse> f : marked) {
                    PagestreamResponse answer = await(f);
                    assertInstanceOf(GetPageResponse.class, answer, "round " + round + ": " + answer);
                    found |= new String(((GetPageResponse) answer).page(), StandardCharsets.ISO_8859_1).contains(mark);
                }
                assertTrue(found, "round " + round + ": none of the " + blocks + " blocks of pgbench_branches read at the"
                        + " latest LSN after " + committed + " holds the update committed there (" + mark + ")");
                for (Future<PagestreamResponse> o : others) {
                    assertInstanceOf(GetPageResponse.class, await(o), "round " + round);
                }
            }
            // on a very busy machine pgbench may end before the last rounds: they are still checked, and said
            System.out.println(duringWrites + " of " + ROUNDS + " rounds read while pgbench wrote");
            assertTrue(duringWrites > 0, "no round was read while pgbench wrote");
            writer.get(3, TimeUnit.MINUTES);
            for (AsyncPageClient c : clients) {
                await(c.close());
            }
        } finally {
            vertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
        }
    }

    private static int filenode(DaemonFixture d, int port, String table) throws Exception {
        return Integer.parseInt(d.psql(port, "SELECT pg_relation_filenode('" + table + "')").trim());
    }

    private static GetPageRequest latest(long reqid, Lsn notModifiedSince, int db, int rel, int block) {
        return new GetPageRequest(new RequestHeader(reqid, RequestHeader.LATEST, notModifiedSince),
                new RelationKey(1663, db, rel, 0), block);
    }

    private static <T> T await(Future<T> f) throws Exception {
        return f.toCompletionStage().toCompletableFuture().get(3, TimeUnit.MINUTES);
    }
}
