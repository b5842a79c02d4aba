package dev.zenith.server.compute;

import dev.zenith.server.compute.ComputeManager;
import dev.zenith.server.testing.DaemonFixture;
import dev.zenith.server.testing.FreshDaemonTest;
import dev.zenith.server.testing.PgbenchLedger;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Losing a compute's directory loses nothing: it is rebuilt from the store (images plus WAL). */
@Tag("pg")
class ComputeDurabilityTest extends FreshDaemonTest {

    @Test
    void stopDeleteDirectoryStartKeepsEverything() throws Exception {
        JsonObject pg = d.createPg("main");
        assertEquals("running", pg.getString("status"));
        assertEquals("local", pg.getString("storage_name"));
        for (String field : new String[] {"port", "connstr", "timeline_id", "last_lsn", "pgdata", "logfile"}) {
            assertTrue(pg.containsKey(field), field + " missing from " + pg);
        }
        int port = pg.getInteger("port");
        assertEquals("on", d.psql(port, "SHOW data_checksums"));
        // No full-page images in the compute's WAL: rebuilds replay plain records over untorn images.
        assertEquals("off", d.psql(port, "SHOW full_page_writes"));
        assertTrue(d.psql(port, "SELECT sync_state FROM pg_stat_replication").contains("sync"),
                "our WAL receiver must be the compute's synchronous standby");
        // ALTER SYSTEM cannot take the receiver out of the commit path (those settings are on the command line).
        d.psql(port, "ALTER SYSTEM SET synchronous_standby_names = ''");
        d.psql(port, "ALTER SYSTEM SET port = 1");
        d.psql(port, "SELECT pg_reload_conf()");
        Thread.sleep(1000); // the postmaster rereads its files on SIGHUP, a new session forks from it
        assertEquals(ComputeManager.RECEIVER_NAME, d.psql(port, "SHOW synchronous_standby_names"));
        assertTrue(d.psql(port, "SELECT sync_state FROM pg_stat_replication").contains("sync"));
        d.psql(port, "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 5000) g");
        d.psql(port, "CREATE DATABASE other");
        String checksum = d.psql(port, "SELECT count(*), sum(id), md5(string_agg(v, ',' ORDER BY id)) FROM t");
        // The writes above went through the receiver: each acknowledgement is one journal write of what the
        // walsender sent, so there are at least as many messages as acknowledgements, and bytes in each.
        JsonObject receiver = ((JsonObject) d.ok(200, "GET", "/pgs/main", null)).getJsonObject("wal_receiver");
        assertTrue(receiver.getLong("commits") > 0, receiver.encode());
        assertTrue(receiver.getLong("wal_messages") >= receiver.getLong("commits"), receiver.encode());
        assertTrue(receiver.getLong("socket_reads") > 0 && receiver.getLong("avg_batch_bytes") > 0, receiver.encode());

        assertEquals("stopped", d.action("main", "stop").getString("status"));
        Path pgdata = Path.of(pg.getString("pgdata"));
        dev.zenith.testkit.PgCluster.deleteTree(pgdata);
        assertFalse(Files.exists(pgdata));
        Files.writeString(Path.of(pg.getString("logfile")), ""); // so the log below is this start's

        assertEquals("running", d.action("main", "start").getString("status"));
        assertEquals(checksum, d.psql(port, "SELECT count(*), sum(id), md5(string_agg(v, ',' ORDER BY id)) FROM t"));
        assertTrue(d.psql(port, "SELECT datname FROM pg_database").contains("other"));
        // The image taken at the clean stop leaves (almost) nothing to replay.
        assertTrue(replayedBytes(Files.readString(Path.of(pg.getString("logfile")))) <= 8192,
                "a rebuild after a clean stop should replay at most one WAL page");
        d.amcheck(port, "--all", "--install-missing");
    }

    @Test
    void aDirectoryDeletedUnderARunningComputeIsStoppedForRealAndRebuilt() throws Exception {
        JsonObject pg = d.createPg("main");
        int port = pg.getInteger("port");
        d.psql(port, "CREATE TABLE kept AS SELECT 42 AS answer");
        Path pgdata = Path.of(pg.getString("pgdata"));
        long postmaster = DaemonFixture.postmasterPid(pgdata);
        dev.zenith.testkit.PgCluster.deleteTree(pgdata); // pid file and all, while it runs

        Thread.sleep(3000); // longer than the daemon's 2 s watch over its computes
        assertEquals("running", ((JsonObject) d.ok(200, "GET", "/pgs/main", null)).getString("status"),
                "its postmaster still runs (and holds the port): the pg is not taken for dead");
        assertEquals("stopped", d.action("main", "stop").getString("status"));
        assertFalse(dev.zenith.pgexec.Processes.isRunning(postmaster), "stopped, though pg_ctl cannot find it any more");

        assertEquals("running", d.action("main", "start").getString("status"));
        assertEquals("42", d.psql(port, "SELECT answer FROM kept"));
    }

    @Test
    void aHungComputeIsStoppedHarderAndRebuilt() throws Exception {
        JsonObject pg = d.createPg("main");
        int port = pg.getInteger("port");
        d.psql(port, "CREATE TABLE kept AS SELECT 42 AS answer");
        long postmaster = DaemonFixture.postmasterPid(Path.of(pg.getString("pgdata")));
        dev.zenith.pgexec.Processes.signal(postmaster, "STOP"); // it will never answer a fast shutdown
        System.setProperty("zenith.computeFastStopSeconds", "3");
        try {
            assertEquals("stopped", d.action("main", "stop").getString("status"));
        } finally {
            System.clearProperty("zenith.computeFastStopSeconds");
            if (dev.zenith.pgexec.Processes.isRunning(postmaster)) {
                dev.zenith.pgexec.Processes.signal(postmaster, "CONT"); // not left frozen if the stop failed
            }
        }
        assertFalse(dev.zenith.pgexec.Processes.isRunning(postmaster), "a stopped pg has no postmaster");
        assertEquals("running", d.action("main", "start").getString("status")); // rebuilt: it did not stop cleanly
        assertEquals("42", d.psql(port, "SELECT answer FROM kept"));
    }

    @Test
    void inPlaceTablespacesAreKeptApartByBranchesAndRebuilt() throws Exception {
        JsonObject pg = d.createPg("main");
        int port = pg.getInteger("port");
        d.psql(port, "CREATE EXTENSION amcheck");
        d.psql(port, "CREATE TABLESPACE inside LOCATION ''");
        d.psql(port, "CREATE TABLE t (id int PRIMARY KEY, v text) TABLESPACE inside");
        d.psql(port, "INSERT INTO t SELECT g, 'A' FROM generate_series(1, 1000) g");
        d.ok(201, "PUT", "/snapshots", new JsonObject().put("name", "main@a").encode());
        d.psql(port, "UPDATE t SET v = 'B'");
        d.psql(port, "CHECKPOINT");

        int branch = ((JsonObject) d.ok(201, "PUT", "/pgs", new JsonObject().put("name", "br").put("snapshot", "main@a")
                .encode())).getInteger("port");
        d.psql(branch, "UPDATE t SET v = 'C' WHERE id <= 10");
        d.psql(branch, "CHECKPOINT");
        assertEquals("A:990,C:10", d.psql(branch, "SELECT string_agg(v || ':' || n, ',' ORDER BY v) FROM"
                + " (SELECT v, count(*) n FROM t GROUP BY v) x"));
        assertEquals("B:1000", d.psql(port, "SELECT v || ':' || count(*) FROM t GROUP BY v"), "the branch wrote only its own copy");

        JsonObject stopped = d.action("main", "stop");
        dev.zenith.testkit.PgCluster.deleteTree(Path.of(stopped.getString("pgdata")));
        d.action("main", "start");
        assertEquals("B:1000", d.psql(port, "SELECT v || ':' || count(*) FROM t GROUP BY v"));
        d.amcheck(port, "-d", "postgres");
        d.amcheck(branch, "-d", "postgres");
    }

    @Test
    void secondPgSharesTheStorageButNotTheTimelineAtOnce() throws Exception {
        JsonObject main = d.createPg("main");
        d.psql(main.getInteger("port"), "CREATE TABLE shared_t AS SELECT 42 AS answer");
        d.ok(201, "PUT", "/pgs", new JsonObject().put("name", "second").put("start", false).encode());
        assertEquals(409, d.request("POST", "/pgs/second/actions", "{\"action\":\"start\"}").statusCode());
        d.action("main", "stop");
        JsonObject second = d.action("second", "start");
        assertEquals("42", d.psql(second.getInteger("port"), "SELECT answer FROM shared_t"));
        assertEquals(main.getString("timeline_id"), second.getString("timeline_id"));
        d.action("second", "stop");
        d.ok(200, "DELETE", "/pgs/second", null);
        assertFalse(Files.exists(Path.of(second.getString("pgdata"))));
    }

    @Test
    void computeKilledDuringPgbenchLosesNoAcknowledgedCommit() throws Exception {
        JsonObject pg = d.createPg("main");
        int port = pg.getInteger("port");
        d.psql(port, PgbenchLedger.SETUP);
        PgbenchLedger bench = new PgbenchLedger(d, d.home.resolve("bench"));
        bench.start(port, 4, 30);
        Thread.sleep(6000);
        DaemonFixture.killCompute(pg);
        bench.await();
        d.awaitJson("/pgs/main", j -> "stopped".equals(j.getString("status")));
        dev.zenith.testkit.PgCluster.deleteTree(Path.of(pg.getString("pgdata")));

        d.action("main", "start");
        Map<Integer, Integer> acked = bench.acknowledged();
        Map<Integer, Integer> stored = PgbenchLedger.parseCounts(d.psql(port, PgbenchLedger.COUNTS));
        assertFalse(acked.isEmpty(), "pgbench committed nothing before the kill: " + bench.output());
        for (var e : acked.entrySet()) {
            int have = stored.getOrDefault(e.getKey(), 0);
            assertTrue(have >= e.getValue(), "client " + e.getKey() + ": pgbench saw " + e.getValue()
                    + " commits, store has " + have);
            assertTrue(have <= e.getValue() + 1, "client " + e.getKey() + ": more rows than commits + 1");
        }
        // The rebuilt directory replayed the whole run's WAL, without full-page images, over the first image.
        d.amcheck(port, "--all", "--install-missing");
    }

    /** Bytes between "redo starts at" and "redo done at" in a PostgreSQL log (0 when no redo ran). */
    static long replayedBytes(String log) {
        Matcher start = Pattern.compile("redo starts at ([0-9A-F]+/[0-9A-F]+)").matcher(log);
        Matcher done = Pattern.compile("redo done at ([0-9A-F]+/[0-9A-F]+)").matcher(log);
        if (!start.find() || !done.find()) {
            return 0;
        }
        return dev.zenith.wal.Lsn.parse(done.group(1)).minus(dev.zenith.wal.Lsn.parse(start.group(1)));
    }
}
