package dev.zenith.server.api;

import dev.zenith.server.testing.FreshDaemonTest;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/** GET /storages/NAME/timelines and GET /pgs/NAME/relations: what a page-service client asks for. */
@Tag("pg")
class PageCatalogRestTest extends FreshDaemonTest {
    @Test
    void timelinesAndRelationSizesAsTheStoreKnowsThem() throws Exception {
        JsonObject pg = d.createPg("main");
        int port = pg.getInteger("port");
        d.pgbench(port, "-i", "-s", "1", "-q");
        d.action("main", "stop");
        Path pgdata = Path.of(pg.getString("pgdata"));
        String timeline = pg.getString("timeline_id");

        JsonObject rels = (JsonObject) d.ok(200, "GET", "/pgs/main/relations", null);
        assertTrue(rels.getBoolean("exact"), rels.encode());
        assertEquals(timeline, rels.getString("timeline_id"));
        assertEquals(((JsonObject) d.ok(200, "GET", "/storages/local", null)).getString("tenant_id"), rels.getString("tenant_id"));
        // Every relation fork file of the stopped compute is listed with its size, and nothing else.
        Map<String, Long> listed = new HashMap<>();
        for (Object o : rels.getJsonArray("relations")) {
            JsonObject r = (JsonObject) o;
            assertFalse(r.containsKey("changed_since_image"));
            String dir = r.getLong("spc") == 1664 ? "global" : "base/" + r.getLong("db");
            String suffix = switch (r.getInteger("fork")) {
                case 0 -> "";
                case 1 -> "_fsm";
                case 2 -> "_vm";
                default -> "_init";
            };
            listed.put(dir + "/" + r.getLong("rel") + suffix, r.getLong("nblocks"));
        }
        int compared = 0;
        for (String dir : List.of("global", "base/5", "base/1")) {
            try (var files = Files.list(pgdata.resolve(dir))) {
                for (Path f : files.toList()) {
                    String name = f.getFileName().toString();
                    if (name.matches("\\d+(_fsm|_vm|_init)?")) {
                        assertEquals(Files.size(f) / 8192, listed.get(dir + "/" + name), dir + "/" + name);
                        compared++;
                    }
                }
            }
        }
        assertTrue(compared > 300, "forks compared: " + compared);

        // Bad LSNs are 400s; an unknown pg a 404.
        assertEquals(400, d.request("GET", "/pgs/main/relations?lsn=nonsense", null).statusCode());
        assertTrue(d.request("GET", "/pgs/main/relations?lsn=0/100", null).body().contains("before the retention horizon"));
        assertTrue(d.request("GET", "/pgs/main/relations?lsn=FF/0", null).body().contains("beyond the end of WAL"));
        assertEquals(400, d.request("GET", "/pgs/main/relations?lsn=0/100&lsn=0/200", null).statusCode());
        assertEquals(404, d.request("GET", "/pgs/nope/relations", null).statusCode());
        assertEquals(404, d.request("GET", "/storages/nope/timelines", null).statusCode());

        // After more writes the store has WAL, not an image: the page index's sizes at that LSN.
        d.action("main", "start");
        d.psql(port, "INSERT INTO pgbench_history SELECT 1, 1, 1, 1, now() FROM generate_series(1, 5000)");
        dev.zenith.wal.Lsn written = dev.zenith.wal.Lsn.parse(d.psql(port, "SELECT pg_current_wal_flush_lsn()"));
        long historyBlocks = Long.parseLong(d.psql(port, "SELECT pg_relation_size('pgbench_history') / 8192"));
        long historyNode = Long.parseLong(d.psql(port, "SELECT pg_relation_filenode('pgbench_history')"));
        // Acknowledged WAL reaches the store's index a moment later (wal_receiver.index_interval_ms).
        JsonObject later = d.awaitJson("/pgs/main/relations?lsn=" + written, r -> true);
        assertTrue(later.getBoolean("exact"), later.encodePrettily());
        long listedHistory = -1;
        for (Object o : later.getJsonArray("relations")) {
            JsonObject r = (JsonObject) o;
            if (r.getLong("rel") == historyNode && r.getInteger("fork") == 0) {
                listedHistory = r.getLong("nblocks");
            }
        }
        assertEquals(historyBlocks, listedHistory, later.encodePrettily()); // pgbench_history grew from 0 blocks

        // Timelines: the root with its pg; a branch with its parent and branch point.
        JsonObject branch = (JsonObject) d.ok(201, "PUT", "/pgs", new JsonObject().put("name", "copy").put("from", "main")
                .put("start", false).encode());
        JsonArray tls = (JsonArray) d.ok(200, "GET", "/storages/local/timelines", null);
        assertEquals(2, tls.size(), tls.encodePrettily());
        for (Object o : tls) {
            JsonObject t = (JsonObject) o;
            if (t.getString("timeline_id").equals(timeline)) {
                assertNull(t.getString("parent_id"));
                assertEquals(new JsonArray().add("main"), t.getJsonArray("pgs"));
                assertNotNull(t.getString("end_lsn"));
                assertNotNull(t.getString("retention_horizon"));
            } else {
                assertEquals(branch.getString("timeline_id"), t.getString("timeline_id"));
                assertEquals(timeline, t.getString("parent_id"));
                assertNotNull(t.getString("branch_lsn"));
                assertEquals(new JsonArray().add("copy"), t.getJsonArray("pgs"));
            }
        }
    }

    /**
     * The timelines of a storage are read on a worker beside the management lock: a detach meanwhile must
     * not close the store under the read (an LMDB environment closed under a read transaction can take the
     * daemon down). Each answer is the storage's timelines, or a 404 once it is gone; never a 500.
     */
    @Test
    void timelinesReadWhileTheStorageIsDetachedAreAnsweredOrNotFound() throws Exception {
        Path s2 = d.home.resolve("s2");
        String attach = new JsonObject().put("name", "s2").put("path", s2.toString()).encode();
        assertEquals(201, d.request("PUT", "/storages", attach).statusCode());
        d.ok(201, "PUT", "/pgs", new JsonObject().put("name", "a").put("storage_name", "s2").encode());
        d.ok(200, "DELETE", "/pgs/a", null); // its storage keeps its timeline, and can be detached
        java.util.concurrent.ExecutorService readers = java.util.concurrent.Executors.newFixedThreadPool(4);
        try {
            for (int round = 0; round < 15; round++) {
                java.util.concurrent.atomic.AtomicBoolean detached = new java.util.concurrent.atomic.AtomicBoolean();
                List<java.util.concurrent.Future<List<String>>> reads = new java.util.ArrayList<>();
                for (int r = 0; r < 4; r++) {
                    reads.add(readers.submit(() -> {
                        List<String> bad = new java.util.ArrayList<>();
                        // reads until the detach is done, and a few after it
                        for (int after = 0; after < 5; after += detached.get() ? 1 : 0) {
                            var answer = d.request("GET", "/storages/s2/timelines", null);
                            if (answer.statusCode() != 200 && answer.statusCode() != 404) {
                                bad.add(answer.statusCode() + " " + answer.body());
                            }
                        }
                        return bad;
                    }));
                }
                Thread.sleep(20);
                assertEquals(200, d.request("DELETE", "/storages/s2", null).statusCode());
                detached.set(true);
                for (var read : reads) {
                    assertEquals(List.of(), read.get(), "round " + round);
                }
                assertEquals(201, d.request("PUT", "/storages", attach).statusCode());
            }
        } finally {
            readers.shutdownNow();
        }
    }
}
