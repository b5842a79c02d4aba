package dev.zenith.server.offload;

import dev.zenith.server.testing.DaemonFixture;
import dev.zenith.testkit.S3ProxyExtension;
import dev.zenith.testkit.S3ProxyServer;
import dev.zenith.wal.Lsn;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A daemon restarting while S3 is down: the s3 storage works at once from its local cache, reaches the
 * prefix once S3 answers (no second restart), and the commits made meanwhile are in S3 afterwards.
 */
@Tag("s3")
@Tag("pg")
class S3StorageRestartTest {
    @RegisterExtension
    static final S3ProxyExtension proxy = new S3ProxyExtension("zen");

    static JsonObject storage(DaemonFixture d) throws Exception {
        return (JsonObject) d.ok(200, "GET", "/storages/cloud", null);
    }

    @Test
    void aRestartWhileS3IsDownWorksFromTheCacheAndUploadsOnceS3Answers() throws Exception {
        S3ProxyServer s3 = proxy.server();
        String rows;
        try (DaemonFixture d = new DaemonFixture().startInProcess()) {
            S3TestStorages.attach(d, s3, "cloud", "restart");
            JsonObject pg = (JsonObject) d.ok(201, "PUT", "/pgs", new JsonObject().put("name", "main")
                    .put("storage_name", "cloud").encode());
            String timeline = pg.getString("timeline_id");
            d.psql(pg.getInteger("port"), "CREATE TABLE t AS SELECT g FROM generate_series(1, 1000) g");
            d.awaitJson("/storages/cloud", j -> !j.getJsonObject("offload").getBoolean("base_pending")
                    && j.getJsonObject("offload").getLong("unuploaded_wal_bytes") == 0);
            d.inProcessShutdownKeepingHome(); // a clean stop: S3 holds everything, the lease is let go

            s3.stop();
            Lsn written;
            try {
                d.startInProcess();
                JsonObject down = storage(d);
                assertEquals("available", down.getString("status"), down.encode());
                JsonObject offload = down.getJsonObject("offload");
                assertEquals("connecting", offload.getString("state"), offload.encode());
                assertNotNull(offload.getString("error"), offload.encode());
                assertNotNull(offload.getString("next_attempt"), offload.encode());
                // the pg that ran before the restart runs again, and commits are acknowledged from the journal
                int port = d.awaitJson("/pgs/main", j -> "running".equals(j.getString("status"))).getInteger("port");
                d.psql(port, "INSERT INTO t SELECT g FROM generate_series(1001, 2000) g");
                written = Lsn.parse(d.psql(port, "SELECT pg_current_wal_flush_lsn()"));
                rows = d.psql(port, "SELECT count(*), sum(g) FROM t");
                Thread.sleep(3000); // several attempts fail meanwhile
                assertEquals("connecting", storage(d).getJsonObject("offload").getString("state"));
            } finally {
                s3.startAgain();
            }
            // no restart: the offload reaches S3 by itself and uploads what was committed while it was down
            d.awaitJson("/storages/cloud", j -> "connected".equals(j.getJsonObject("offload").getString("state"))
                    && !S3StorageRestoreTest.remoteLsnIn(j, timeline).isBefore(written));
        }
        // the daemon stopped (S3 holds everything); the home is gone: a fresh daemon restores the commits
        try (DaemonFixture fresh = new DaemonFixture().startInProcess()) {
            S3TestStorages.attach(fresh, s3, "cloud", "restart");
            int port = fresh.action("main", "start").getInteger("port");
            assertEquals(rows, fresh.psql(port, "SELECT count(*), sum(g) FROM t"));
            assertTrue(rows.startsWith("2000"), rows);
        }
    }

    @Test
    void aStorageWhoseCacheIsMissingIsRestoredOnceS3Answers() throws Exception {
        S3ProxyServer s3 = proxy.server();
        try (DaemonFixture d = new DaemonFixture().startInProcess()) {
            S3TestStorages.attach(d, s3, "cloud", "no-cache");
            JsonObject pg = (JsonObject) d.ok(201, "PUT", "/pgs", new JsonObject().put("name", "main")
                    .put("storage_name", "cloud").encode());
            d.psql(pg.getInteger("port"), "CREATE TABLE t AS SELECT g FROM generate_series(1, 1000) g");
            String rows = d.psql(pg.getInteger("port"), "SELECT count(*), sum(g) FROM t");
            d.inProcessShutdownKeepingHome(); // a clean stop: S3 holds everything
            dev.zenith.testkit.PgCluster.deleteTree(d.home.resolve("s3-cache").resolve("cloud"));

            s3.stop();
            try {
                d.startInProcess();
                JsonObject down = storage(d);
                assertEquals("unavailable", down.getString("status"), down.encode());
                assertTrue(down.getString("error").contains("as soon as S3 answers"), down.encode());
                Thread.sleep(3000); // tries fail meanwhile, and leave nothing half restored
                assertEquals("unavailable", storage(d).getString("status"));
            } finally {
                s3.startAgain();
            }
            // no restart: the storage is restored from its prefix once S3 answers, and its pg (running before) starts again
            d.awaitJson("/storages/cloud", j -> "available".equals(j.getString("status")));
            int port = d.awaitJson("/pgs/main", j -> "running".equals(j.getString("status"))).getInteger("port");
            assertEquals(rows, d.psql(port, "SELECT count(*), sum(g) FROM t"));
        }
    }
}
