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
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A branch created just before the daemon is killed -9 is in S3: a new timeline (and the pg on it) goes up
 * at the next offload round, not after {@code offload.base_interval_ms}, and its WAL follows within the lag.
 */
@Tag("s3")
@Tag("pg")
class S3StorageNewBranchKillTest {
    @RegisterExtension
    static final S3ProxyExtension proxy = new S3ProxyExtension("zen");

    @Test
    void aBranchAndItsCommitAreInS3SecondsAfterTheCommit() throws Exception {
        S3ProxyServer s3 = proxy.server();
        String rows;
        try (DaemonFixture a = new DaemonFixture()) {
            a.jvmOptions.addAll(s3.credentialOptions());
            // bases for other changes only every minute: the branch must not wait for one
            a.offloadSettings.put("base_interval_ms", 60_000);
            a.startProcess();
            S3TestStorages.attach(a, s3, "cloud", "branch");
            JsonObject main = (JsonObject) a.ok(201, "PUT", "/pgs", new JsonObject().put("name", "main")
                    .put("storage_name", "cloud").encode());
            int mainPort = main.getInteger("port");
            a.psql(mainPort, "CREATE TABLE t AS SELECT g FROM generate_series(1, 1000) g");
            a.ok(201, "PUT", "/snapshots", new JsonObject().put("name", "main@fork").encode());

            JsonObject feature = (JsonObject) a.ok(201, "PUT", "/pgs", new JsonObject().put("name", "feature")
                    .put("snapshot", "main@fork").encode());
            int port = feature.getInteger("port");
            String timeline = feature.getString("timeline_id");
            a.psql(port, "INSERT INTO t SELECT g FROM generate_series(1001, 1500) g");
            Lsn committed = Lsn.parse(a.psql(port, "SELECT pg_current_wal_flush_lsn()"));
            rows = a.psql(port, "SELECT count(*), sum(g) FROM t");
            long t0 = System.nanoTime();
            while (S3StorageRestoreTest.remoteLsn(a, "cloud", timeline).isBefore(committed)) {
                assertTrue(System.nanoTime() - t0 < 20_000_000_000L, "the branch's commit is not in S3 20 s later: "
                        + ((JsonObject) a.ok(200, "GET", "/storages/cloud", null)).getJsonObject("offload").encode());
                Thread.sleep(100);
            }
            a.killProcess();
        }
        try (DaemonFixture b = new DaemonFixture().startInProcess()) {
            S3TestStorages.attachAfterTheLeaseRunsOut(b, s3, "cloud", "branch");
            int port = b.action("feature", "start").getInteger("port");
            assertEquals(rows, b.psql(port, "SELECT count(*), sum(g) FROM t"));
            assertTrue(rows.startsWith("1500"), rows);
        }
    }
}
