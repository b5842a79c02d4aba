package dev.zenith.server.offload;

import dev.zenith.server.testing.DaemonFixture;
import dev.zenith.testkit.S3ProxyExtension;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Restoring an s3 storage (an attach of a prefix into an empty cache, or a listed storage whose cache is missing,
 * once S3 answers) takes long for a large storage: it runs without the management lock, so the daemon's other
 * storages and pgs stay usable meanwhile; a second attach of the same name or prefix, or a detach, is refused
 * while it runs.
 */
@Tag("s3")
@Tag("pg")
class S3RestoreUnlockedTest {
    @RegisterExtension
    final S3ProxyExtension proxy = new S3ProxyExtension("zen");

    /** A pg "main" on an s3 storage "cloud" at {@code s3://zen/PREFIX} with about 150 MB (a restore takes seconds); its rows. */
    private String fill(DaemonFixture a, String prefix) throws Exception {
        S3TestStorages.attach(a, proxy.server(), "cloud", prefix);
        int port = ((JsonObject) a.ok(201, "PUT", "/pgs", new JsonObject().put("name", "main").put("storage_name", "cloud")
                .encode())).getInteger("port");
        a.psql(port, "CREATE TABLE big AS SELECT g, repeat(md5(g::text), 8) AS v FROM generate_series(1, 400000) g; CHECKPOINT");
        return a.psql(port, "SELECT count(*), sum(g) FROM big");
    }

    /**
     * Waits until {@code cloud}'s restore writes its base (ahead of the lease, or under it); fails if {@code done} says
     * it ended before.
     */
    private static void awaitRestoring(DaemonFixture b, java.util.function.BooleanSupplier done) throws Exception {
        Path cache = b.home.resolve("s3-cache").resolve("cloud");
        Path restoring = cache.resolve("data.mdb.restoring");
        Path ahead = BaseAhead.directory(cache).resolve("data.mdb.restoring");
        long t0 = System.nanoTime();
        while (!Files.exists(restoring) && !Files.exists(ahead)) {
            assertFalse(done.getAsBoolean(), "the restore ended before it was seen");
            assertTrue(System.nanoTime() - t0 < 120_000_000_000L, "the restore never started");
            Thread.sleep(5);
        }
    }

    @Test
    void otherStoragesStayUsableWhileAStorageIsRestored() throws Exception {
        String rows;
        try (DaemonFixture a = new DaemonFixture().startInProcess()) {
            rows = fill(a, "big");
        } // a clean stop: S3 holds everything
        try (DaemonFixture b = new DaemonFixture().startInProcess()) {
            int local = ((JsonObject) b.ok(201, "PUT", "/pgs", new JsonObject().put("name", "here").encode())).getInteger("port");
            String body = S3TestStorages.attachBody("cloud", "s3://zen/big", proxy.server().endpoint().toString());
            CompletableFuture<HttpResponse<String>> attach = CompletableFuture.supplyAsync(() -> {
                try {
                    return b.request("PUT", "/storages", body);
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            awaitRestoring(b, attach::isDone);
            // while the restore runs: changes under the management lock go on
            b.ok(200, "GET", "/storages/local", null);
            b.ok(201, "PUT", "/snapshots", new JsonObject().put("name", "here@during").encode());
            HttpResponse<String> again = b.request("PUT", "/storages", body);
            HttpResponse<String> samePlace = b.request("PUT", "/storages",
                    S3TestStorages.attachBody("cloud2", "s3://zen/big", proxy.server().endpoint().toString()));
            assertFalse(attach.isDone(), "the other requests waited for the restore to finish");
            assertEquals(409, again.statusCode(), again.body());
            assertTrue(again.body().contains("is being attached"), again.body());
            assertEquals(409, samePlace.statusCode(), samePlace.body());
            assertEquals("1", b.psql(local, "SELECT 1"));

            HttpResponse<String> done = attach.get(180, TimeUnit.SECONDS);
            assertEquals(201, done.statusCode(), done.body());
            int port = b.action("main", "start").getInteger("port");
            assertEquals(rows, b.psql(port, "SELECT count(*), sum(g) FROM big"));
        }
    }

    @Test
    void aStorageRestoredOnceS3AnswersLeavesTheOthersUsable() throws Exception {
        try (DaemonFixture d = new DaemonFixture().startInProcess()) {
            String rows = fill(d, "later");
            d.ok(201, "PUT", "/pgs", new JsonObject().put("name", "here").encode()); // on the local storage; runs again at the restart
            d.inProcessShutdownKeepingHome(); // a clean stop: S3 holds everything
            dev.zenith.testkit.PgCluster.deleteTree(d.home.resolve("s3-cache").resolve("cloud"));
            proxy.server().stop();
            try {
                d.startInProcess(); // cloud is unavailable: no cache, S3 down
            } finally {
                proxy.server().startAgain();
            }
            // the periodic retry restores it now that S3 answers
            awaitRestoring(d, () -> false);
            int local = d.pg("here").getInteger("port");
            d.ok(200, "GET", "/storages/local", null);
            d.ok(201, "PUT", "/snapshots", new JsonObject().put("name", "here@during").encode());
            HttpResponse<String> detach = d.request("DELETE", "/storages/cloud", null);
            JsonObject cloud = (JsonObject) d.ok(200, "GET", "/storages/cloud", null);
            assertEquals("unavailable", cloud.getString("status"), "the other requests waited for the restore: " + cloud.encode());
            assertEquals(409, detach.statusCode(), detach.body());
            assertTrue(detach.body().contains("being restored"), detach.body());
            assertEquals("1", d.psql(local, "SELECT 1"));

            d.awaitJson("/storages/cloud", j -> "available".equals(j.getString("status")));
            int port = d.awaitJson("/pgs/main", j -> "running".equals(j.getString("status"))).getInteger("port");
            assertEquals(rows, d.psql(port, "SELECT count(*), sum(g) FROM big"));
        }
    }
}
