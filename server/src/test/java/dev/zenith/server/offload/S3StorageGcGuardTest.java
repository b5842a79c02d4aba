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
 * Garbage collection on an s3 storage never frees WAL its prefix has not received: with S3 down, a pg writes on
 * (a WAL switch, checkpoints, materialized steps past where S3 stopped), and {@code storage gc --pitr 0s} frees
 * WAL while it runs, but not from the timeline's {@code remote_lsn} on. When S3 answers again the upload catches
 * up (without the guard it would stay behind for good: the WAL after remote_lsn is gone), and a fresh daemon
 * restoring the prefix has every row.
 */
@Tag("s3")
@Tag("pg")
class S3StorageGcGuardTest {
    @RegisterExtension
    final S3ProxyExtension proxy = new S3ProxyExtension("zen");

    @Test
    void aShortPitrCollectionDuringAnOutageKeepsTheWalS3HasNotReceived() throws Exception {
        S3ProxyServer s3 = proxy.server();
        String rows;
        try (DaemonFixture d = new DaemonFixture()) {
            d.jvmOptions.addAll(s3.credentialOptions());
            d.startProcess(); // its own JVM: materialization steps are told in ZENITH_HOME/zenith.log
            S3TestStorages.attach(d, s3, "cloud", "guard");
            JsonObject pg = (JsonObject) d.ok(201, "PUT", "/pgs", new JsonObject().put("name", "main")
                    .put("storage_name", "cloud").encode());
            int port = pg.getInteger("port");
            String timeline = pg.getString("timeline_id");
            d.pgbench(port, "-i", "-s", "1", "-q");
            rounds(d, port);
            d.awaitJson("/storages/cloud", j -> !j.getJsonObject("offload").getBoolean("base_pending")
                    && j.getJsonObject("offload").getLong("unuploaded_wal_bytes") == 0);
            Lsn received = S3StorageRestoreTest.remoteLsn(d, "cloud", timeline);

            s3.stop();
            long stoppedAt = System.nanoTime();
            try {
                d.psql(port, "SELECT pg_switch_wal()"); // what follows is in later segments than what S3 holds
                rounds(d, port);
                Lsn lastRedo = Lsn.parse(d.psql(port, "SELECT redo_lsn FROM pg_control_checkpoint()"));
                d.psql(port, "CHECKPOINT"); // its anchor makes the step at lastRedo
                d.awaitMaterialized(lastRedo);
                JsonObject freed = (JsonObject) d.ok(200, "POST", "/storages/cloud/gc",
                        new JsonObject().put("pitr", "0s").encode());
                // the collection did free WAL (what S3 holds, before the base at or below remote_lsn)...
                assertTrue(freed.getLong("wal_bytes_freed") > 0, freed.encode());
                assertEquals(received, S3StorageRestoreTest.remoteLsn(d, "cloud", timeline), "S3 was down");
                rows = d.psql(port, "SELECT count(*) || ' ' || sum(abalance) FROM pgbench_accounts")
                        + " " + d.psql(port, "SELECT count(*) FROM pgbench_history");
                // longer than the lease (60 s), as S3StorageFaultsTest: it runs out and is taken again once S3 answers
                // (S3 back while this daemon's own lease record is still valid fences it: left to the lease's owners)
                Thread.sleep(Math.max(0, 65_000 - (System.nanoTime() - stoppedAt) / 1_000_000));
            } finally {
                s3.startAgain();
            }
            // ...but not what S3 has not received: the upload catches up
            JsonObject caughtUp = d.awaitJson("/storages/cloud", j -> j.getJsonObject("offload").getLong("unuploaded_wal_bytes") == 0
                    && !j.getJsonObject("offload").containsKey("error")).getJsonObject("offload");
            assertEquals(0L, caughtUp.getLong("unuploaded_wal_bytes"), caughtUp.encode());
        } // a clean stop: the prefix holds everything
        try (DaemonFixture b = new DaemonFixture().startInProcess()) {
            S3TestStorages.attach(b, s3, "cloud", "guard");
            int port = b.action("main", "start").getInteger("port");
            assertEquals(rows, b.psql(port, "SELECT count(*) || ' ' || sum(abalance) FROM pgbench_accounts")
                    + " " + b.psql(port, "SELECT count(*) FROM pgbench_history"));
        }
    }

    /** pgbench (counted: at any load it changes pages), then a checkpoint (an anchor, a materialization step), twice. */
    private static void rounds(DaemonFixture d, int port) throws Exception {
        for (int i = 0; i < 2; i++) {
            d.pgbench(port, "-n", "-c", "4", "-j", "2", "-t", "50");
            d.psql(port, "CHECKPOINT");
        }
    }
}
