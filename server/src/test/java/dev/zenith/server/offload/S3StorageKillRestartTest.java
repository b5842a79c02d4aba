package dev.zenith.server.offload;

import dev.zenith.server.testing.DaemonFixture;
import dev.zenith.testkit.S3ProxyExtension;
import dev.zenith.testkit.S3ProxyServer;
import dev.zenith.wal.Lsn;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.net.http.HttpResponse;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A daemon killed -9 and started again on its home takes its s3 storage's lease over at once (see
 * {@link HomeTakeover}) instead of waiting a minute for the lease its dead predecessor left; another
 * home is still refused the prefix while the lease is held.
 */
@Tag("s3")
@Tag("pg")
class S3StorageKillRestartTest {
    @RegisterExtension
    static final S3ProxyExtension proxy = new S3ProxyExtension("zen");

    @Test
    void aRestartAfterKill9UploadsAtOnceAndAnotherHomeIsStillRefused() throws Exception {
        S3ProxyServer s3 = proxy.server();
        try (DaemonFixture a = new DaemonFixture()) {
            a.jvmOptions.addAll(s3.credentialOptions());
            a.startProcess();
            S3TestStorages.attach(a, s3, "cloud", "kill-restart");
            JsonObject pg = (JsonObject) a.ok(201, "PUT", "/pgs", new JsonObject().put("name", "main")
                    .put("storage_name", "cloud").encode());
            String timeline = pg.getString("timeline_id");
            a.psql(pg.getInteger("port"), "CREATE TABLE t AS SELECT g FROM generate_series(1, 1000) g");
            a.awaitJson("/storages/cloud", j -> !j.getJsonObject("offload").getBoolean("base_pending"));
            long generation = ((JsonObject) a.ok(200, "GET", "/storages/cloud", null)).getJsonObject("offload").getLong("lease_generation");
            a.killProcess();

            long t0 = System.nanoTime();
            a.startProcess();
            JsonObject offload = a.awaitJson("/storages/cloud", j -> "connected".equals(j.getJsonObject("offload").getString("state")))
                    .getJsonObject("offload");
            long seconds = (System.nanoTime() - t0) / 1_000_000_000L;
            // the dead daemon's lease lasts 60 s (+5 s for clocks): connected well before that means taken over
            assertTrue(seconds < 40, "the restarted daemon reached its prefix only after " + seconds + " s: " + offload.encode());
            assertTrue(offload.getBoolean("lease_valid"), offload.encode());
            assertEquals(generation + 1, offload.getLong("lease_generation"), offload.encode());
            assertTrue(a.log().contains("taking over the lease of"), "the log says why the lease was not waited for");

            int port = a.awaitJson("/pgs/main", j -> "running".equals(j.getString("status"))).getInteger("port");
            a.psql(port, "INSERT INTO t SELECT g FROM generate_series(1001, 2000) g");
            Lsn written = Lsn.parse(a.psql(port, "SELECT pg_current_wal_flush_lsn()"));
            while (S3StorageRestoreTest.remoteLsn(a, "cloud", timeline).isBefore(written)) {
                assertTrue(System.nanoTime() - t0 < 60_000_000_000L, "a commit after the restart is not in S3 yet: "
                        + ((JsonObject) a.ok(200, "GET", "/storages/cloud", null)).getJsonObject("offload").encode());
                Thread.sleep(200);
            }

            // a daemon of another home is refused: the takeover is only for this home's own restart
            try (DaemonFixture other = new DaemonFixture().startInProcess()) {
                HttpResponse<String> r = other.request("PUT", "/storages",
                        S3TestStorages.attachBody("cloud", "s3://zen/kill-restart", s3.endpoint().toString()));
                assertEquals(409, r.statusCode(), r.body());
                assertTrue(r.body().contains("in use by another running daemon"), r.body());
            }
        }
    }
}
