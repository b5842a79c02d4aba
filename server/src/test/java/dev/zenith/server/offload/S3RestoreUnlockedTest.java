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
 * Restoring an s3 storage (attach of a prefix into an empty cache) takes long for a large storage: it runs
 * without the management lock, so the daemon's other storages and pgs stay usable meanwhile; a second attach
 * of the same name or prefix is refused while it runs.
 */
@Tag("s3")
@Tag("pg")
class S3RestoreUnlockedTest {
    @RegisterExtension
    final S3ProxyExtension proxy = new S3ProxyExtension("zen");

    @Test
    void otherStoragesStayUsableWhileAStorageIsRestored() throws Exception {
        String rows;
        try (DaemonFixture a = new DaemonFixture().startInProcess()) {
            S3TestStorages.attach(a, proxy.server(), "cloud", "big");
            int port = ((JsonObject) a.ok(201, "PUT", "/pgs", new JsonObject().put("name", "main").put("storage_name", "cloud")
                    .encode())).getInteger("port");
            // about 150 MB: its restore takes seconds
            a.psql(port, "CREATE TABLE big AS SELECT g, repeat(md5(g::text), 8) AS v FROM generate_series(1, 400000) g; CHECKPOINT");
            rows = a.psql(port, "SELECT count(*), sum(g) FROM big");
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
            Path restoring = b.home.resolve("s3-cache").resolve("cloud").resolve("data.mdb.restoring");
            long t0 = System.nanoTime();
            while (!Files.exists(restoring)) {
                assertFalse(attach.isDone(), "the attach ended before its restore was seen: " + (attach.isDone() ? attach.join().body() : ""));
                assertTrue(System.nanoTime() - t0 < 120_000_000_000L, "the restore never started");
                Thread.sleep(5);
            }
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
}
