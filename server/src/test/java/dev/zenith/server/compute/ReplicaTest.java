package dev.zenith.server.compute;

import dev.zenith.server.testing.CliRun;
import dev.zenith.server.testing.FreshDaemonTest;
import dev.zenith.server.testing.PgbenchLedger;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A replica is a stock hot standby whose primary_conninfo is our replication port: it streams its
 * timeline's WAL from the store, so it sees what the primary commits. Replay lag is measured (printed,
 * not asserted: these machines are shared).
 */
@Tag("pg")
class ReplicaTest extends FreshDaemonTest {

    @Test
    void replicaFollowsThePrimaryThroughTheStore() throws Exception {
        JsonObject main = d.createPg("main");
        int primary = main.getInteger("port");
        d.psql(primary, "CREATE TABLE marks (id int PRIMARY KEY)");
        d.pgbench(primary, "-i", "-s", "1", "-q");
        d.ok(201, "PUT", "/pgs", new JsonObject().put("name", "rep").put("start", false).encode());
        JsonObject rep = (JsonObject) d.ok(200, "POST", "/pgs/rep/actions",
                new JsonObject().put("action", "start").put("is_replica", true).encode());
        assertEquals("replica", rep.getString("role"));
        assertTrue(rep.getString("replication_connstr").contains("port=" + d.pgPort), rep.encode());
        int replica = rep.getInteger("port");
        assertEquals("t", d.psql(replica, "SELECT pg_is_in_recovery()"));
        assertEquals("1", d.psql(replica, "SELECT count(*) FROM pgbench_branches"));

        // a second replica of the same timeline, while the primary runs
        d.ok(201, "PUT", "/pgs", new JsonObject().put("name", "rep2").put("start", false).encode());
        int replica2 = ((JsonObject) d.ok(200, "POST", "/pgs/rep2/actions",
                new JsonObject().put("action", "start").put("is_replica", true).encode())).getInteger("port");

        // under a pgbench load, each marker row committed on the primary shows up on the replicas
        PgbenchLedger load = new PgbenchLedger(d, d.home.resolve("load"));
        d.psql(primary, PgbenchLedger.SETUP);
        load.start(primary, 4, 12);
        List<Long> lagMicros = new ArrayList<>();
        for (int i = 1; i <= 20; i++) {
            d.psql(primary, "INSERT INTO marks VALUES (" + i + ")");
            long committed = System.nanoTime();
            lagMicros.add(waitForRow(replica, i, committed));
            Thread.sleep(200);
        }
        load.await();
        waitForRow(replica2, 20, System.nanoTime());
        Collections.sort(lagMicros);
        System.out.printf("replica replay lag under pgbench (4 clients): median %.1f ms, max %.1f ms over %d commits%n",
                lagMicros.get(lagMicros.size() / 2) / 1000.0, lagMicros.get(lagMicros.size() - 1) / 1000.0, lagMicros.size());

        // everything the primary acknowledged is on the replica once it caught up
        String ledgerOnPrimary = d.psql(primary, "SELECT count(*) FROM ledger");
        for (int i = 0; i < 300 && !ledgerOnPrimary.equals(d.psql(replica, "SELECT count(*) FROM ledger")); i++) {
            Thread.sleep(100);
        }
        assertEquals(ledgerOnPrimary, d.psql(replica, "SELECT count(*) FROM ledger"));
        // a replica's last_lsn is its timeline's durable end, which the primary's receiver moves on
        JsonArray pgs = (JsonArray) d.ok(200, "GET", "/pgs", null);
        java.util.Map<String, String> lastLsn = new java.util.HashMap<>();
        pgs.forEach(p -> lastLsn.put(((JsonObject) p).getString("name"), ((JsonObject) p).getString("last_lsn")));
        assertEquals(lastLsn.get("main"), lastLsn.get("rep"), pgs.encode());
        assertEquals(409, d.request("POST", "/pgs/rep/actions", "{\"action\":\"start\"}").statusCode());
        // a checkout would take a running replica off its primary's timeline, where nothing ever streams to it
        String before = pgsWithoutWalPositions() + d.ok(200, "GET", "/snapshots", null);
        java.net.http.HttpResponse<String> checkout = d.request("POST", "/pgs/rep/actions",
                new JsonObject().put("action", "checkout").put("lsn", main.getString("last_lsn")).encode());
        assertEquals(409, checkout.statusCode(), checkout.body());
        assertTrue(checkout.body().contains("is a running replica"), checkout.body());
        assertEquals(before, pgsWithoutWalPositions() + d.ok(200, "GET", "/snapshots", null));

        // a stopped replica starts again as a replica, rebuilt from the store; as a primary it is refused
        d.action("rep", "stop");
        assertEquals(409, d.request("POST", "/pgs/rep/actions", "{\"action\":\"start\"}").statusCode());
        JsonObject again = (JsonObject) d.ok(200, "POST", "/pgs/rep/actions",
                new JsonObject().put("action", "start").put("is_replica", true).encode());
        assertEquals("replica", again.getString("role"));
        waitForRow(replica, 20, System.nanoTime());
    }

    @Test
    void promotedReplicaWritesANewTimelineThatSurvivesARebuild() throws Exception {
        JsonObject main = d.createPg("main");
        int primary = main.getInteger("port");
        d.psql(primary, "CREATE TABLE marks (id int PRIMARY KEY); INSERT INTO marks SELECT generate_series(1, 100)");
        d.ok(201, "PUT", "/pgs", new JsonObject().put("name", "rep").put("start", false).encode());
        int replica = ((JsonObject) d.ok(200, "POST", "/pgs/rep/actions",
                new JsonObject().put("action", "start").put("is_replica", true).encode())).getInteger("port");
        waitForRow(replica, 100, System.nanoTime());
        assertEquals(409, d.request("POST", "/pgs/rep/actions", "{\"action\":\"promote\"}").statusCode(),
                "no promotion while the primary runs");
        assertEquals(409, d.request("POST", "/pgs/main/actions", "{\"action\":\"promote\"}").statusCode(),
                "only replicas are promoted");

        d.action("main", "stop");
        JsonObject promoted = d.action("rep", "promote");
        assertEquals("primary", promoted.getString("role"));
        assertEquals(2, promoted.getInteger("pg_timeline"));
        assertTrue(!promoted.getString("timeline_id").equals(main.getString("timeline_id")), promoted.encode());
        assertEquals("f", d.psql(replica, "SELECT pg_is_in_recovery()"));
        d.psql(replica, "INSERT INTO marks SELECT generate_series(101, 200)");
        assertEquals("sync", d.psql(replica, "SELECT sync_state FROM pg_stat_replication"),
                "the promoted primary's commits wait for our WAL receiver");

        // its new WAL is in the store: losing the directory loses nothing
        JsonObject stopped = d.action("rep", "stop");
        dev.zenith.testkit.PgCluster.deleteTree(java.nio.file.Path.of(stopped.getString("pgdata")));
        d.action("rep", "start");
        assertEquals("200", d.psql(replica, "SELECT count(*) FROM marks"));
        assertEquals("2", d.psql(replica, "SELECT timeline_id FROM pg_control_checkpoint()"));

        // The old primary is fenced: started as a primary it would write a second version of the history
        // rep was promoted from. Asked explicitly, it forks: a branch of its own at its end.
        var refused = d.request("POST", "/pgs/main/actions", "{\"action\":\"start\"}");
        assertEquals(409, refused.statusCode(), refused.body());
        assertTrue(refused.body().contains("'rep' was promoted from") && refused.body().contains("--force"), refused.body());
        assertEquals("stopped", d.pg("main").getString("status"));
        JsonObject forked = (JsonObject) d.ok(200, "POST", "/pgs/main/actions",
                new JsonObject().put("action", "start").put("force", true).encode());
        assertTrue(!forked.getString("timeline_id").equals(main.getString("timeline_id")), forked.encode());
        assertTrue(forked.getString("source").endsWith("(forked)"), forked.encode());
        assertEquals("100", d.psql(primary, "SELECT count(*) FROM marks"));
        assertEquals("3", d.pgTimeline(primary));
        d.psql(primary, "INSERT INTO marks VALUES (1000)");
        assertEquals("200", d.psql(replica, "SELECT count(*) FROM marks"), "the promoted history is untouched");
        d.action("main", "stop");
        d.action("main", "start"); // on its own branch now: no longer fenced
        assertEquals("101", d.psql(primary, "SELECT count(*) FROM marks"));
    }

    /**
     * {@code replica_of}: a replica that follows a pg by name sees its writes across its checkouts: one to an
     * older point (behind the replica, which PostgreSQL cannot go back to: rebuilt from the store there), the
     * return to HEAD1 (another branch of the old history: rebuilt), and one to where the replica already is
     * (PostgreSQL follows the new timeline by itself: the same server goes on).
     */
    @Test
    void aReplicaOfAPgFollowsItsHistoryAcrossCheckouts() throws Exception {
        int primary = d.createPg("main").getInteger("port");
        d.psql(primary, "CREATE TABLE t (id int); INSERT INTO t SELECT generate_series(1, 100)");
        d.ok(201, "PUT", "/snapshots", new JsonObject().put("name", "main@hundred").encode());
        d.psql(primary, "INSERT INTO t SELECT generate_series(101, 200)");

        int pgsBefore = ((JsonArray) d.ok(200, "GET", "/pgs", null)).size();
        assertEquals(404, d.request("PUT", "/pgs", new JsonObject().put("name", "r").put("replica_of", "nope").encode()).statusCode());
        var withPoint = d.request("PUT", "/pgs", new JsonObject().put("name", "r").put("replica_of", "main")
                .put("snapshot", "main@hundred").encode());
        assertEquals(400, withPoint.statusCode(), withPoint.body());
        assertTrue(withPoint.body().contains("give 'replica_of' alone"), withPoint.body());
        assertEquals(pgsBefore, ((JsonArray) d.ok(200, "GET", "/pgs", null)).size(), "refused requests change nothing");

        var usage = cli("pg", "create", "rep", "main@hundred", "--replica-of", "main");
        assertEquals(2, usage.code(), usage.toString());
        assertTrue(usage.err().contains("give --replica-of alone"), usage.err());
        var created = cli("pg", "create", "rep", "--replica-of", "main");
        assertEquals(0, created.code(), created.toString());
        assertTrue(created.out().startsWith("pg rep created on storage local as a replica of main (running)\n"), created.out());
        JsonObject rep = d.pg("rep");
        assertEquals("replica", rep.getString("role"));
        assertEquals("main", rep.getString("replica_of"));
        assertTrue(rep.getString("replication_connstr").contains("-c zenith.pg=main"), rep.encode());
        int replica = rep.getInteger("port");
        awaitCount(replica, 200);
        d.psql(primary, "INSERT INTO t SELECT generate_series(201, 300)");
        awaitCount(replica, 300);
        var replicaOfReplica = d.request("PUT", "/pgs", new JsonObject().put("name", "r").put("replica_of", "rep").encode());
        assertEquals(400, replicaOfReplica.statusCode(), replicaOfReplica.body());

        assertTrue(cli("pg", "list").out().lines().anyMatch(l -> l.matches("rep +running +replica of main .*")),
                cli("pg", "list").out());
        assertTrue(cli("pg", "show", "rep").out().contains("  role:           replica of main\n"), cli("pg", "show", "rep").out());

        // Back to an older point, behind the replica: it is rebuilt at main's new history.
        var moved = cli("pg", "checkout", "main", "main@hundred", "--yes");
        assertEquals(0, moved.code(), moved.toString());
        assertTrue(moved.out().contains("  replica rep: rebuilt from the store at main's new history"), moved.out());
        awaitCount(replica, 100);
        d.psql(primary, "INSERT INTO t SELECT generate_series(1001, 1010)");
        awaitCount(replica, 110);
        assertEquals(d.pg("main").getString("timeline_id"), d.pg("rep").getString("timeline_id"));

        // ...and to the state main left there (HEAD1), another branch of its first history.
        checkout("main@HEAD1");
        awaitCount(replica, 300);
        d.psql(primary, "INSERT INTO t VALUES (301)");
        awaitCount(replica, 301);

        // A checkout of where the replica already is: PostgreSQL follows the new timeline, no rebuild; even
        // across a timeline number another history took (a branch: its history file is a placeholder).
        d.ok(201, "PUT", "/pgs", new JsonObject().put("name", "other").put("from", "main").put("start", false).encode());
        long postmaster = postmasterPid(rep);
        d.action("main", "stop");
        d.ok(201, "PUT", "/snapshots", new JsonObject().put("name", "main@stopped").encode());
        JsonObject out = checkout("main@stopped");
        assertEquals(new JsonObject().put("name", "rep").put("how", "followed"), out.getJsonArray("replicas").getJsonObject(0));
        d.psql(primary, "INSERT INTO t VALUES (302)");
        awaitCount(replica, 302);
        assertEquals(postmaster, postmasterPid(rep), "the same standby followed");
        assertEquals(d.pgTimeline(primary),
                d.psql(replica, "SELECT received_tli FROM pg_stat_wal_receiver"));

        // Stopped and started again, it is a replica of main still; as a primary, or checked out, it is refused.
        d.action("rep", "stop");
        d.psql(primary, "INSERT INTO t VALUES (303)");
        assertEquals("replica", d.action("rep", "start").getString("role"));
        awaitCount(replica, 303);
        var asPrimary = d.request("POST", "/pgs/rep/actions", new JsonObject().put("action", "start").put("is_replica", false).encode());
        assertEquals(409, asPrimary.statusCode(), asPrimary.body());
        var repCheckout = d.request("POST", "/pgs/rep/actions", new JsonObject().put("action", "checkout")
                .put("snapshot", "main@hundred").encode());
        assertEquals(409, repCheckout.statusCode(), repCheckout.body());
        assertTrue(repCheckout.body().contains("is a replica of pg 'main'"), repCheckout.body());
        d.psql(primary, "INSERT INTO t VALUES (304)");
        awaitCount(replica, 304);
    }

    /**
     * A standby that follows its primary onto a newer PostgreSQL timeline fetches the history of every number
     * in between (walreceiver), and its startup process stops looking at the first one missing. A number whose
     * branch was destroyed and collected was still taken (numbers are never given twice): it is answered with
     * a placeholder, as while the branch existed, and the replica follows main's checkout. Answered "could not
     * open file", the replica asked again every 5 s and stayed where it was for good.
     */
    @Test
    void aReplicaPassesTheTimelineNumberOfACollectedBranch() throws Exception {
        int primary = d.createPg("main").getInteger("port");
        d.psql(primary, "CREATE TABLE t (id int); INSERT INTO t SELECT generate_series(1, 100)");
        d.ok(201, "PUT", "/pgs", new JsonObject().put("name", "rep").put("replica_of", "main").encode());
        int replica = d.pg("rep").getInteger("port");
        awaitCount(replica, 100);
        String mainTimeline = d.pg("main").getString("timeline_id");

        // a branch takes PostgreSQL timeline 2; destroyed, garbage collection drops its timeline
        d.ok(201, "PUT", "/pgs", new JsonObject().put("name", "gone").put("from", "main").put("start", false).encode());
        String goneTimeline = d.pg("gone").getString("timeline_id");
        assertEquals(200, d.request("DELETE", "/pgs/gone", null).statusCode());
        d.ok(200, "POST", "/storages/local/gc", null);
        String timelines = d.request("GET", "/storages/local/timelines", null).body();
        assertFalse(timelines.contains(goneTimeline), "the branch's timeline was collected: " + timelines);

        // main moves on to timeline 3 where the replica is: PostgreSQL follows by itself, passing number 2
        d.action("main", "stop");
        d.ok(201, "PUT", "/snapshots", new JsonObject().put("name", "main@stopped").encode());
        JsonObject out = checkout("main@stopped");
        assertEquals(new JsonObject().put("name", "rep").put("how", "followed"), out.getJsonArray("replicas").getJsonObject(0));
        assertTrue(!mainTimeline.equals(d.pg("main").getString("timeline_id")));
        assertEquals("3", d.pgTimeline(primary));
        d.psql(primary, "INSERT INTO t VALUES (101)");
        awaitCount(replica, 101);
        assertEquals("3", d.psql(replica, "SELECT received_tli FROM pg_stat_wal_receiver"));
    }

    /** The CLI, in this JVM, against this test's daemon. */
    private CliRun cli(String... argv) {
        System.setProperty("zenith.home", d.home.toString());
        try {
            return CliRun.inProcess(argv);
        } finally {
            System.clearProperty("zenith.home");
        }
    }

    private JsonObject checkout(String snapshot) throws Exception {
        return (JsonObject) d.ok(200, "POST", "/pgs/main/actions",
                new JsonObject().put("action", "checkout").put("snapshot", snapshot).encode());
    }

    private static long postmasterPid(JsonObject pg) throws Exception {
        return Long.parseLong(java.nio.file.Files.readAllLines(java.nio.file.Path.of(pg.getString("pgdata"), "postmaster.pid"))
                .get(0).trim());
    }

    /** Polls a replica until table t has {@code rows} rows. */
    private void awaitCount(int port, int rows) throws Exception {
        String last = "";
        for (long deadline = System.nanoTime() + 120_000_000_000L; System.nanoTime() < deadline; Thread.sleep(50)) {
            try {
                last = d.psql(port, "SELECT count(*) FROM t");
                if (last.equals(Integer.toString(rows))) {
                    return;
                }
            } catch (java.io.IOException e) {
                last = e.getMessage(); // starting, or rebuilt meanwhile
            }
        }
        StringBuilder logs = new StringBuilder();
        try (var files = java.nio.file.Files.list(d.home.resolve("pgs"))) {
            for (var f : files.filter(f -> f.toString().endsWith(".log")).toList()) {
                logs.append("\n--- ").append(f).append("\n").append(java.nio.file.Files.readString(f));
            }
        }
        throw new AssertionError("the replica on port " + port + " never had " + rows + " rows; last: " + last + logs);
    }

    /** Polls the replica until marker {@code id} is visible; returns microseconds since {@code since}. */
    private long waitForRow(int port, int id, long since) throws Exception {
        for (int i = 0; i < 3000; i++) {
            try {
                if ("1".equals(d.psql(port, "SELECT count(*) FROM marks WHERE id = " + id))) {
                    return (System.nanoTime() - since) / 1000;
                }
            } catch (java.io.IOException e) {
                if (!e.getMessage().contains("relation \"marks\" does not exist")) {
                    throw e;
                }
                // the replica has not replayed the CREATE TABLE yet
            }
            Thread.sleep(10);
        }
        throw new AssertionError("marker " + id + " never reached the replica on port " + port);
    }

    /**
     * The pgs as GET /pgs lists them, without what the running primary moves on by itself (its last LSN and its
     * receiver's counters: PostgreSQL logs running transactions and checkpoints on its own).
     */
    private String pgsWithoutWalPositions() throws Exception {
        JsonArray pgs = ((JsonArray) d.ok(200, "GET", "/pgs", null)).copy();
        pgs.forEach(p -> {
            ((JsonObject) p).remove("last_lsn");
            ((JsonObject) p).remove("wal_receiver");
        });
        return pgs.toString();
    }
}
