package dev.zenith.server.offload;

import dev.zenith.objectstore.ObjectStore;
import dev.zenith.objectstore.log.ManifestLog;
import dev.zenith.objectstore.s3.S3Location;
import dev.zenith.objectstore.s3.S3ObjectStore;
import dev.zenith.objectstore.s3.S3Settings;
import dev.zenith.server.testing.DaemonFixture;
import dev.zenith.server.testing.PgbenchLedger;
import dev.zenith.testkit.PgCluster;
import dev.zenith.testkit.S3ProxyExtension;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Losing the machine: a pg on an s3 storage runs pgbench, the daemon stops, its whole home is deleted, and
 * a fresh daemon attaching the prefix has every transaction pgbench saw commit.
 */
@Tag("s3")
@Tag("pg")
class S3StorageRestoreTest {
    @RegisterExtension
    static final S3ProxyExtension proxy = new S3ProxyExtension("zen");

    @Test
    void everyCommitComesBackAfterTheHomeIsLost() throws Exception {
        Path work = DaemonFixture.reachableTempDir("zenith-s3-restore-");
        String checksum;
        String snapshotView;
        PgbenchLedger bench;
        try (DaemonFixture a = new DaemonFixture().startInProcess()) {
            S3TestStorages.attach(a, proxy.server(), "cloud", "lost");
            JsonObject pg = (JsonObject) a.ok(201, "PUT", "/pgs", new JsonObject().put("name", "main").put("storage_name", "cloud").encode());
            int port = pg.getInteger("port");
            a.psql(port, PgbenchLedger.SETUP);
            a.psql(port, "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 2000) g");
            a.ok(201, "PUT", "/snapshots", new JsonObject().put("name", "main@before").encode());
            snapshotView = a.psql(port, "SELECT count(*), md5(string_agg(v, ',' ORDER BY id)) FROM t");
            a.psql(port, "UPDATE t SET v = 'changed' WHERE id <= 1000");
            bench = new PgbenchLedger(a, work.resolve("bench"));
            bench.start(port, 4, 8);
            bench.await();
            checksum = a.psql(port, "SELECT count(*), md5(string_agg(v, ',' ORDER BY id)) FROM t");
            JsonObject offload = ((JsonObject) a.ok(200, "GET", "/storages/cloud", null)).getJsonObject("offload");
            assertTrue(offload.containsKey("timelines"), offload.encode());
            // the daemon stops: computes cleanly, then S3 gets everything before the storage closes
        }
        String lostBase;
        try (ObjectStore store = S3ObjectStore.open(S3Settings.of(S3Location.parse("s3://zen/lost"))
                .withEndpoint(proxy.server().endpoint()).withCredentials(proxy.server().accessKey(), proxy.server().secretKey()))) {
            lostBase = ManifestLog.read(store).properties().get(RemoteNames.CURRENT_BASE);
        }
        DaemonFixture restoring = new DaemonFixture();
        restoring.offloadSettings.put("base_interval_ms", 60_000); // changes (the pgs adopted) wait that long for a base
        try (DaemonFixture b = restoring.startInProcess()) {
            JsonObject s = S3TestStorages.attach(b, proxy.server(), "cloud", "lost");
            assertTrue(Path.of(s.getString("path")).startsWith(b.home), s.encode());
            // the restored store is the prefix's base plus its WAL: its first upload rounds take no base (one was
            // taken at once, a copy and hash of the whole store beside the restored pg's first start)
            Thread.sleep(3000);
            assertEquals(lostBase, ((JsonObject) b.ok(200, "GET", "/storages/cloud", null)).getJsonObject("offload")
                    .getString("base"), "no new base right after the restore");
            JsonObject pg = b.pg("main");
            assertEquals("stopped", pg.getString("status"), pg.encode());
            assertEquals("cloud", pg.getString("storage_name"));
            JsonObject started = b.action("main", "start");
            int port = started.getInteger("port");
            assertTrue(port >= b.computeFirstPort, "a port of this daemon: " + started);
            bench.assertAcknowledgedStored(b.psql(port, PgbenchLedger.COUNTS));
            assertEquals(checksum, b.psql(port, "SELECT count(*), md5(string_agg(v, ',' ORDER BY id)) FROM t"));
            b.amcheck(port, "--all", "--install-missing");
            // a branch at the snapshot taken before the loss sees exactly what it saw
            JsonObject branch = (JsonObject) b.ok(201, "PUT", "/pgs", new JsonObject().put("name", "then")
                    .put("snapshot", "main@before").encode());
            assertEquals(snapshotView, b.psql(branch.getInteger("port"), "SELECT count(*), md5(string_agg(v, ',' ORDER BY id)) FROM t"));
        } finally {
            PgCluster.deleteTree(work);
        }
    }

    /** The remote_lsn storage show reports for a timeline. */
    static dev.zenith.wal.Lsn remoteLsn(DaemonFixture d, String storage, String timeline) throws Exception {
        return remoteLsnIn((JsonObject) d.ok(200, "GET", "/storages/" + storage, null), timeline);
    }

    /** The remote_lsn a storage show answer reports for a timeline (0/0 while it reports none). */
    static dev.zenith.wal.Lsn remoteLsnIn(JsonObject storage, String timeline) {
        JsonObject offload = storage.getJsonObject("offload");
        for (Object o : offload.getJsonArray("timelines")) {
            JsonObject t = (JsonObject) o;
            if (timeline.equals(t.getString("timeline")) && t.getString("remote_lsn") != null) {
                return dev.zenith.wal.Lsn.parse(t.getString("remote_lsn"));
            }
        }
        return dev.zenith.wal.Lsn.INVALID;
    }

    @Test
    void afterKill9EverythingUpToTheReportedRemoteLsnComesBack() throws Exception {
        Path work = DaemonFixture.reachableTempDir("zenith-s3-kill-");
        Killed killed;
        try (DaemonFixture a = new DaemonFixture()) {
            a.jvmOptions.addAll(proxy.server().credentialOptions());
            a.startProcess();
            S3TestStorages.attach(a, proxy.server(), "cloud", "killed");
            JsonObject pg = (JsonObject) a.ok(201, "PUT", "/pgs", new JsonObject().put("name", "main").put("storage_name", "cloud").encode());
            int port = pg.getInteger("port");
            a.psql(port, PgbenchLedger.SETUP);
            // the root timeline goes up with a base first; then its WAL follows within the lag bound
            a.awaitJson("/storages/cloud", j -> !j.getJsonObject("offload").getBoolean("base_pending"));
            killed = killAfterPgbench(a, port, pg.getString("timeline_id"), work);
        }
        try (DaemonFixture b = new DaemonFixture().startInProcess()) {
            S3TestStorages.attachAfterTheLeaseRunsOut(b, proxy.server(), "cloud", "killed");
            JsonObject started = b.action("main", "start");
            int port = started.getInteger("port");
            killed.assertBack(b, port);
            b.amcheck(port, "--all", "--install-missing");
        } finally {
            PgCluster.deleteTree(work);
        }
    }

    /**
     * What a daemon killed -9 after pgbench had reported: pgbench's per-client counts and the ledger's rows once S3
     * held them ({@code remote_lsn} at or past the WAL written), and the storage show answer then; 100 more rows
     * were committed after that, which S3 may or may not hold.
     */
    record Killed(String counts, String rows, JsonObject shown) {
        /** Every row S3 held when the daemon died is on {@code port}, and nothing but the 100 rows it may not have held. */
        void assertBack(DaemonFixture d, int port) throws Exception {
            java.util.Map<Integer, Integer> before = PgbenchLedger.parseCounts(counts);
            java.util.Map<Integer, Integer> after = PgbenchLedger.parseCounts(d.psql(port, PgbenchLedger.COUNTS));
            for (var e : before.entrySet()) {
                assertTrue(after.getOrDefault(e.getKey(), 0) >= e.getValue(), "client " + e.getKey() + ": " + after + " < " + before);
            }
            long restored = Long.parseLong(d.psql(port, "SELECT count(*) FROM ledger"));
            assertTrue(restored >= Long.parseLong(rows) && restored <= Long.parseLong(rows) + 100, restored + " rows");
        }
    }

    /**
     * Runs pgbench's ledger load on {@code port} (the ledger table exists), waits until S3 holds all of it, commits 100
     * rows more and kills the daemon (a process) -9.
     */
    static Killed killAfterPgbench(DaemonFixture a, int port, String timeline, Path work) throws Exception {
        PgbenchLedger bench = new PgbenchLedger(a, work.resolve("bench"));
        bench.start(port, 4, 8);
        bench.await();
        String counts = a.psql(port, PgbenchLedger.COUNTS);
        String rows = a.psql(port, "SELECT count(*) FROM ledger");
        dev.zenith.wal.Lsn written = dev.zenith.wal.Lsn.parse(a.psql(port, "SELECT pg_current_wal_flush_lsn()"));
        long t0 = System.nanoTime();
        while (remoteLsn(a, "cloud", timeline).isBefore(written)) {
            assertTrue(System.nanoTime() - t0 < 180_000_000_000L, "S3 never caught up with " + written);
            Thread.sleep(100);
        }
        JsonObject shown = (JsonObject) a.ok(200, "GET", "/storages/cloud", null);
        assertFalse(remoteLsnIn(shown, timeline).isBefore(written));
        // more commits the prefix may not hold yet, then the daemon dies
        a.psql(port, "INSERT INTO ledger (client) SELECT 1000 FROM generate_series(1, 100)");
        a.killProcess();
        return new Killed(counts, rows, shown);
    }
}
