package dev.zenith.server.offload;

import dev.zenith.server.testing.DaemonFixture;
import dev.zenith.server.testing.PgbenchLedger;
import dev.zenith.testkit.PgCluster;
import dev.zenith.testkit.S3ProxyExtension;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.Test;

import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** An s3 storage when S3 fails: commits go on from the local journal; damaged objects are never used. */
@Tag("s3")
@Tag("pg")
class S3StorageFaultsTest {
    @RegisterExtension
    final S3ProxyExtension proxy = new S3ProxyExtension("zen");
    Path work;

    @BeforeEach
    void startS3() throws Exception {
        work = DaemonFixture.reachableTempDir("zenith-s3-faults-");
    }

    @AfterEach
    void stopS3() throws Exception {
        PgCluster.deleteTree(work);
    }

    static JsonObject offload(DaemonFixture d) throws Exception {
        return ((JsonObject) d.ok(200, "GET", "/storages/cloud", null)).getJsonObject("offload");
    }

    static JsonObject createPg(DaemonFixture d) throws Exception {
        return (JsonObject) d.ok(201, "PUT", "/pgs", new JsonObject().put("name", "main").put("storage_name", "cloud").encode());
    }

    @Test
    void commitsGoOnWhileS3IsDownAndTheUploadCatchesUp() throws Exception {
        try (DaemonFixture d = new DaemonFixture().startInProcess()) {
            S3TestStorages.attach(d, proxy.server(), "cloud", "down");
            JsonObject pg = createPg(d);
            int port = pg.getInteger("port");
            d.psql(port, PgbenchLedger.SETUP);
            d.awaitJson("/storages/cloud", j -> !j.getJsonObject("offload").getBoolean("base_pending")
                    && j.getJsonObject("offload").getLong("unuploaded_wal_bytes") == 0);

            List<String> logged = new java.util.concurrent.CopyOnWriteArrayList<>();
            java.util.logging.Logger log = java.util.logging.Logger.getLogger(UploadHealth.class.getName());
            java.util.logging.Handler handler = new java.util.logging.Handler() {
                @Override
                public void publish(java.util.logging.LogRecord r) {
                    logged.add(r.getMessage());
                }

                @Override
                public void flush() {
                }

                @Override
                public void close() {
                }
            };
            log.addHandler(handler);
            proxy.server().stop();
            long stoppedAt = System.nanoTime();
            try {
                PgbenchLedger bench = new PgbenchLedger(d, work.resolve("bench"));
                bench.start(port, 4, 8);
                bench.await(); // every commit acknowledged while S3 is down (it fails the test after 5 minutes otherwise)
                bench.assertAcknowledgedStored(d.psql(port, PgbenchLedger.COUNTS));
                JsonObject behind = d.awaitJson("/storages/cloud", j -> j.getJsonObject("offload").containsKey("error"))
                        .getJsonObject("offload");
                assertTrue(behind.getLong("unuploaded_wal_bytes") > 0, behind.encode());
                assertTrue(logged.stream().anyMatch(m -> m.contains("uploading to s3://zen/down") && m.contains("fails")),
                        "the log names the failing upload: " + logged);
                // longer than the lease (60 s): it runs out, and is taken again once S3 answers
                Thread.sleep(Math.max(0, 65_000 - (System.nanoTime() - stoppedAt) / 1_000_000));
            } finally {
                proxy.server().startAgain(); // else the daemon's stop below waits for S3
            }
            JsonObject caughtUp = d.awaitJson("/storages/cloud", j -> j.getJsonObject("offload").getLong("unuploaded_wal_bytes") == 0
                    && !j.getJsonObject("offload").containsKey("error")).getJsonObject("offload");
            assertEquals(0L, caughtUp.getLong("unuploaded_wal_bytes"), caughtUp.encode());
            assertTrue(logged.stream().anyMatch(m -> m.contains("work again")), "the log says so: " + logged);
            log.removeHandler(handler);
        }
    }

    @Test
    void aDamagedObjectIsNeverRestored() throws Exception {
        try (DaemonFixture a = new DaemonFixture().startInProcess()) {
            S3TestStorages.attach(a, proxy.server(), "cloud", "damaged");
            JsonObject pg = createPg(a);
            a.psql(pg.getInteger("port"), "CREATE TABLE t AS SELECT g FROM generate_series(1, 1000) g");
        }
        // one byte flipped in every object the prefix holds
        List<Path> blobs;
        try (Stream<Path> files = Files.walk(proxy.server().dataDir().resolve("zen").resolve("damaged").resolve("blobs"))) {
            blobs = files.filter(Files::isRegularFile).toList();
        }
        assertTrue(!blobs.isEmpty());
        for (Path b : blobs) {
            byte[] bytes = Files.readAllBytes(b);
            bytes[bytes.length / 2] ^= 0x40;
            Files.write(b, bytes);
        }
        try (DaemonFixture b = new DaemonFixture().startInProcess()) {
            String registry = Files.readString(b.home.resolve("storages.json"));
            HttpResponse<String> r = b.request("PUT", "/storages", S3TestStorages.attachBody("cloud", "s3://zen/damaged",
                    proxy.server().endpoint().toString()));
            assertEquals(503, r.statusCode(), r.body());
            assertTrue(r.body().contains("corrupt") && r.body().contains("blobs/"), r.body());
            assertEquals(registry, Files.readString(b.home.resolve("storages.json")));
            assertEquals(1, ((JsonArray) b.ok(200, "GET", "/storages", null)).size());
            assertTrue(!Files.exists(b.home.resolve("s3-cache").resolve("cloud")), "nothing of the damaged restore is kept");
        }
    }
}
