package dev.zenith.server;

import dev.zenith.pgexec.Processes;
import dev.zenith.server.testing.DaemonFixture;
import dev.zenith.server.testing.PgbenchLedger;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The daemon killed with -9 in the middle of a pgbench run: while it is down no commit is acknowledged
 * (synchronous replication waits for our receiver); the restarted daemon takes its compute back, the run
 * finishes, and every acknowledged commit survives a rebuild from the store.
 */
@Tag("pg")
class DaemonCrashTest {
    DaemonFixture d;

    @AfterEach
    void stop() throws Exception {
        if (d != null) {
            d.close();
        }
    }

    @Test
    void daemonKilledMidRunLosesNothingAndAcknowledgesNothingWhileDown() throws Exception {
        d = new DaemonFixture().startProcess();
        JsonObject pg = d.createPg("main");
        int port = pg.getInteger("port");
        d.psql(port, PgbenchLedger.SETUP);
        PgbenchLedger bench = new PgbenchLedger(d, d.home.resolve("bench"));
        bench.start(port, 4, 20);
        Thread.sleep(5000);

        long killedAt = System.currentTimeMillis() * 1000;
        d.killProcess();
        Thread.sleep(4000);
        long restartedAt = System.currentTimeMillis() * 1000;
        d.startProcess();
        JsonObject back = d.pg("main");
        assertEquals("running", back.getString("status"), "the restarted daemon should take the compute back");
        bench.await();

        // Nothing completed while no receiver could make it durable (1 s of slack for acks already in flight).
        List<Long> times = bench.completionTimesMicros();
        long duringOutage = times.stream().filter(t -> t > killedAt + 1_000_000 && t < restartedAt).count();
        assertEquals(0, duringOutage, "transactions were acknowledged while the daemon was down");
        assertTrue(times.stream().anyMatch(t -> t > restartedAt), "pgbench should resume after the restart: " + bench.output());

        d.action("main", "stop");
        dev.zenith.testkit.PgCluster.deleteTree(Path.of(pg.getString("pgdata")));
        d.action("main", "start");
        Map<Integer, Integer> acked = bench.acknowledged();
        Map<Integer, Integer> stored = PgbenchLedger.parseCounts(d.psql(port, PgbenchLedger.COUNTS));
        assertFalse(acked.isEmpty());
        for (var e : acked.entrySet()) {
            int have = stored.getOrDefault(e.getKey(), 0);
            assertTrue(have >= e.getValue(), "client " + e.getKey() + ": pgbench saw " + e.getValue()
                    + " commits, store has " + have);
        }
    }

    /**
     * kill -9 while pg destroy waits for its compute to stop (the postmaster hangs): the restarted daemon
     * finishes the destroy (stops the postmaster, deletes the pg's directory, log and record), and the name
     * is free again.
     */
    @Test
    void aDestroyCutShortByKillMinus9IsFinishedAtTheNextStart() throws Exception {
        d = new DaemonFixture();
        d.jvmOptions.add("-Dzenith.computeFastStopSeconds=5");
        d.startProcess();
        JsonObject pg = d.createPg("doomed");
        d.psql(pg.getInteger("port"), "CREATE TABLE left_over AS SELECT 1 AS x");
        Path pgdata = Path.of(pg.getString("pgdata"));
        long postmaster = Long.parseLong(Files.readAllLines(pgdata.resolve("postmaster.pid")).get(0).trim());
        Processes.signal(postmaster, "STOP"); // the destroy waits for it, and it stays so over the restart
        try {
            var destroying = java.util.concurrent.CompletableFuture.runAsync(() -> {
                try {
                    d.request("DELETE", "/pgs/doomed", null); // its answer never comes: the daemon is killed
                } catch (Exception e) {
                    // the connection ends with the daemon
                }
            });
            Thread.sleep(2000); // into the stop, which waits 5 s for the frozen postmaster
            assertFalse(destroying.isDone(), "the destroy waits for the compute to stop");
            d.killProcess();
            assertTrue(Files.isDirectory(pgdata) && Processes.isRunning(postmaster), "the destroy was cut short");

            d.startProcess();
            assertEquals(404, d.request("GET", "/pgs/doomed", null).statusCode(), "the destroy was finished");
            assertTrue(Processes.awaitExit(postmaster, 60_000), "its postmaster was stopped");
        } finally {
            if (Processes.isRunning(postmaster)) { // not left frozen when the test failed
                Processes.signal(postmaster, "CONT");
                Processes.signal(postmaster, "KILL");
            }
        }
        assertFalse(Files.exists(pgdata), "its directory is gone");
        assertFalse(Files.exists(Path.of(pg.getString("logfile"))), "its log is gone");
        assertTrue(d.log().contains("pg doomed was being destroyed when the daemon stopped; finishing that"), d.log());
        JsonObject again = d.createPg("doomed"); // the name is free; the storage's history stays (a pg is a compute)
        assertEquals("1", d.psql(again.getInteger("port"), "SELECT x FROM left_over"));
    }
}
