package dev.zenith.server.history;


import dev.zenith.server.testing.DaemonFixture;
import dev.zenith.testkit.PgCluster;
import dev.zenith.wal.Lsn;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Snapshots, branches and time travel on a real pgbench history: a compute started at a snapshot, an
 * LSN or a time shows exactly the rows committed at that point, passes pg_amcheck, and its writes stay
 * on its own branch; checkout moves a pg through history and back.
 */
@Tag("pg")
public class HistoryTest {
    static DaemonFixture d;
    static int mainPort;
    static final List<String> expected = new ArrayList<>();   // pgbench_history fingerprint at main@s{i}
    static final List<String> lsns = new ArrayList<>();
    static final List<Instant> lastTransactionStarts = new ArrayList<>(); // newest pgbench mtime at main@s{i}
    static Instant betweenS2AndS3;
    static String finalState;
    static Instant beforeFirstCommit; // after initdb's commits and its image, before any commit of ours

    public static final String FINGERPRINT = "SELECT count(*) || ':' || coalesce(md5(string_agg(tid || ',' || bid || ',' || aid"
            + " || ',' || delta || ',' || mtime, ';' ORDER BY mtime, tid, bid, aid, delta)), '-') FROM pgbench_history";

    @BeforeAll
    static void history() throws Exception {
        d = new DaemonFixture().startInProcess();
        mainPort = d.createPg("main").getInteger("port");
        Thread.sleep(50);
        beforeFirstCommit = Instant.now();
        Thread.sleep(50);
        d.psql(mainPort, "CREATE EXTENSION amcheck"); // in every point of history, read-only nodes included
        d.pgbench(mainPort, "-i", "-s", "1", "-q");
        for (int i = 1; i <= 3; i++) {
            d.pgbench(mainPort, "-n", "-c", "2", "-j", "2", "-t", "150");
            expected.add(d.psql(mainPort, FINGERPRINT));
            lastTransactionStarts.add(Instant.ofEpochMilli(Long.parseLong(
                    d.psql(mainPort, "SELECT floor(extract(epoch FROM max(mtime)) * 1000)::bigint FROM pgbench_history"))));
            JsonObject snap = (JsonObject) d.ok(201, "PUT", "/snapshots", new JsonObject().put("name", "main@s" + i).encode());
            lsns.add(snap.getString("lsn"));
            if (i == 2) {
                Thread.sleep(1100);
                betweenS2AndS3 = Instant.now();
                Thread.sleep(1100);
            }
        }
        d.pgbench(mainPort, "-n", "-c", "2", "-j", "2", "-t", "100");
        finalState = d.psql(mainPort, FINGERPRINT);
    }

    @AfterAll
    static void stop() throws Exception {
        d.close();
    }

    private static JsonObject create(JsonObject body) throws Exception {
        return (JsonObject) d.ok(201, "PUT", "/pgs", body.encode());
    }

    private static void amcheck(int port) throws Exception {
        d.amcheck(port, "-d", "postgres");
    }

    private static void drop(String name) throws Exception {
        d.ok(200, "DELETE", "/pgs/" + name, null);
    }

    @Test
    void aBranchAtEachSnapshotShowsExactlyItsRows() throws Exception {
        for (int i = 1; i <= 3; i++) {
            JsonObject b = create(new JsonObject().put("name", "snap" + i).put("snapshot", "main@s" + i));
            int port = b.getInteger("port");
            assertEquals(expected.get(i - 1), d.psql(port, FINGERPRINT), "branch at main@s" + i);
            assertNotEquals(finalState, d.psql(port, FINGERPRINT));
            amcheck(port);
            drop("snap" + i);
        }
    }

    @Test
    void branchesAtAnLsnOrATimeAndReadOnlyNodes() throws Exception {
        JsonObject atLsn = create(new JsonObject().put("name", "atlsn").put("from", "main").put("lsn", lsns.get(0)));
        assertEquals(expected.get(0), d.psql(atLsn.getInteger("port"), FINGERPRINT));
        drop("atlsn");

        JsonObject atTime = create(new JsonObject().put("name", "attime").put("from", "main")
                .put("time", betweenS2AndS3.toString()));
        assertEquals(expected.get(1), d.psql(atTime.getInteger("port"), FINGERPRINT));
        assertTrue(atTime.getJsonObject("branch").getString("commit_time") != null, atTime.encodePrettily());
        drop("attime");

        JsonObject ro = create(new JsonObject().put("name", "ro").put("from", "main").put("lsn", lsns.get(1))
                .put("read_only", true));
        assertEquals("read_only", ro.getString("role"));
        int port = ro.getInteger("port");
        assertEquals(expected.get(1), d.psql(port, FINGERPRINT));
        assertEquals("t", d.psql(port, "SELECT pg_is_in_recovery()"));
        java.io.IOException refused = org.junit.jupiter.api.Assertions.assertThrows(java.io.IOException.class,
                () -> d.psql(port, "INSERT INTO pgbench_history VALUES (1, 1, 1, 1, now())"));
        assertTrue(refused.getMessage().contains("read-only transaction"), refused.getMessage());
        amcheck(port);
        drop("ro");
    }

    @Test
    void writesOnABranchStayOnIt() throws Exception {
        int a = create(new JsonObject().put("name", "branch-a").put("snapshot", "main@s1")).getInteger("port");
        int b = create(new JsonObject().put("name", "branch-b").put("snapshot", "main@s1")).getInteger("port");
        d.psql(a, "INSERT INTO pgbench_history VALUES (42, 42, 42, 42, now())");
        d.pgbench(a, "-n", "-t", "50");
        assertEquals("1", d.psql(a, "SELECT count(*) FROM pgbench_history WHERE tid = 42 AND delta = 42"));
        assertEquals("0", d.psql(b, "SELECT count(*) FROM pgbench_history WHERE tid = 42 AND delta = 42"));
        assertEquals("0", d.psql(mainPort, "SELECT count(*) FROM pgbench_history WHERE tid = 42 AND delta = 42"));
        assertEquals(expected.get(0), d.psql(b, FINGERPRINT));
        // the branch's own writes survive losing its directory, like any pg's
        JsonObject stopped = d.action("branch-a", "stop");
        PgCluster.deleteTree(Path.of(stopped.getString("pgdata")));
        d.action("branch-a", "start");
        assertEquals("1", d.psql(a, "SELECT count(*) FROM pgbench_history WHERE tid = 42 AND delta = 42"));
        drop("branch-a");
        drop("branch-b");
    }

    @Test
    void checkoutAndBackRestoresTheExactState() throws Exception {
        d.ok(201, "PUT", "/pgs", new JsonObject().put("name", "travel").put("from", "main").encode());
        int port = d.pg("travel").getInteger("port");
        d.psql(port, "INSERT INTO pgbench_history VALUES (7, 7, 7, 7, now())");
        String before = d.psql(port, FINGERPRINT);

        JsonObject out = (JsonObject) d.ok(200, "POST", "/pgs/travel/actions",
                new JsonObject().put("action", "checkout").put("snapshot", "main@s2").encode());
        assertEquals("travel@HEAD1", out.getString("saved_as"));
        assertEquals(expected.get(1), d.psql(port, FINGERPRINT));

        d.ok(200, "POST", "/pgs/travel/actions", new JsonObject().put("action", "checkout")
                .put("snapshot", "travel@HEAD1").encode());
        assertEquals(before, d.psql(port, FINGERPRINT));
        amcheck(port);
        JsonArray snaps = (JsonArray) d.ok(200, "GET", "/snapshots", null);
        assertTrue(snaps.encode().contains("travel@HEAD2"), "the second checkout keeps the state it left too");
        // a snapshot's parent is the newest snapshot in its past: travel@HEAD1 was taken on a branch of main
        assertEquals("main@s3", ((JsonObject) d.ok(200, "GET", "/snapshots/travel@HEAD1", null)).getString("parent"));
        assertEquals("main@s1", ((JsonObject) d.ok(200, "GET", "/snapshots/main@s2", null)).getString("parent"));
        assertEquals(null, ((JsonObject) d.ok(200, "GET", "/snapshots/main@s1", null)).getString("parent"));
        drop("travel");
    }

    @Test
    void aSnapshotSaysWhenItsDataWasLastCommitted() throws Exception {
        List<Instant> committed = new ArrayList<>();
        for (int i = 1; i <= 3; i++) {
            JsonObject snap = (JsonObject) d.ok(200, "GET", "/snapshots/main@s" + i, null);
            Instant at = Instant.parse(snap.getString("commit_time"));
            assertTrue(!at.isBefore(lastTransactionStarts.get(i - 1)) && at.isBefore(Instant.parse(snap.getString("created_at"))),
                    "main@s" + i + "'s last commit is pgbench's last (or a later autovacuum's): " + snap.encode());
            committed.add(at);
        }
        assertTrue(committed.get(1).isBefore(betweenS2AndS3) && committed.get(2).isAfter(betweenS2AndS3), committed.toString());

        // the same point asked for by its LSN was last committed at the same time
        JsonObject byLsn = (JsonObject) d.ok(201, "PUT", "/snapshots",
                new JsonObject().put("name", "main@bylsn").put("lsn", lsns.get(1)).encode());
        assertEquals(committed.get(1).toString(), byLsn.getString("commit_time"), byLsn.encode());
        d.ok(200, "DELETE", "/snapshots/main@bylsn", null);
    }

    @Test
    void diffCountsThePagesChangedBetweenTwoPoints() throws Exception {
        JsonObject same = (JsonObject) d.ok(200, "GET", "/snapshot-diff?from=main@s1&to=main@s1", null);
        assertEquals(0, same.getInteger("pages_changed"));
        JsonObject forward = (JsonObject) d.ok(200, "GET", "/snapshot-diff?from=main@s1&to=main@s2", null);
        JsonObject backward = (JsonObject) d.ok(200, "GET", "/snapshot-diff?from=main@s2&to=main@s1", null);
        JsonObject wider = (JsonObject) d.ok(200, "GET", "/snapshot-diff?from=main@s1&to=main@s3", null);
        int pages = forward.getInteger("pages_changed");
        assertTrue(pages > 0, forward.encode());
        assertEquals(pages, backward.getInteger("pages_changed"));
        assertEquals((long) pages * 8192, forward.getLong("bytes_changed"));
        assertTrue(wider.getInteger("pages_changed") >= pages, "s1..s3 covers s1..s2");
        // pgbench touched at most every page of its tables and indexes (plus catalogs and FSM/VM)
        int relPages = Integer.parseInt(d.psql(mainPort, "SELECT sum(relpages) FROM pg_class"));
        assertTrue(pages <= relPages + 2000, pages + " pages changed, more than exist: " + relPages);
        assertEquals(400, d.request("GET", "/snapshot-diff?from=main@s1", null).statusCode());
        expectError(400, "GET", "/snapshot-diff?from=main@s1&to=main@s2&to=main@s3", null, "once each");
    }

    /**
     * What the bad requests must not change: the snapshots and pgs as listed, less the bytes each snapshot retains,
     * which background materialization changes while the test runs (CI saw retains_page_bytes move by 1.9 KB).
     */
    private String snapshotsAndPgs() throws Exception {
        JsonArray snapshots = ((JsonArray) d.ok(200, "GET", "/snapshots", null)).copy();
        for (Object o : snapshots) {
            JsonObject snapshot = (JsonObject) o;
            snapshot.remove("retains_wal_bytes");
            snapshot.remove("retains_page_bytes");
            snapshot.remove("retains_bytes");
        }
        JsonArray pgs = ((JsonArray) d.ok(200, "GET", "/pgs", null)).copy();
        for (Object o : pgs) { // a running primary's WAL moves by itself (timed checkpoints, standby snapshots)
            ((JsonObject) o).remove("last_lsn");
            ((JsonObject) o).remove("wal_receiver");
        }
        return snapshots.toString() + pgs;
    }

    @Test
    void badPointsAreClearErrorsAndChangeNothing() throws Exception {
        String before = snapshotsAndPgs();
        expectError(400, "PUT", "/snapshots", new JsonObject().put("name", "main@far").put("lsn", "FF/0"), "beyond the end of WAL");
        expectError(400, "PUT", "/snapshots", new JsonObject().put("name", "main@bad").put("lsn", "zz"), "not an LSN");
        expectError(400, "PUT", "/snapshots", new JsonObject().put("name", "nosign"), "PG@SNAP");
        expectError(400, "PUT", "/snapshots", new JsonObject().put("name", "main@HEAD9"), "must match");
        expectError(404, "PUT", "/snapshots", new JsonObject().put("name", "ghost@s1"), "pg 'ghost' not found");
        expectError(409, "PUT", "/snapshots", new JsonObject().put("name", "main@s1"), "already exists");
        expectError(400, "PUT", "/snapshots", new JsonObject().put("name", "main@old").put("time", "1999-01-01T00:00:00Z"),
                "no commit at or before");
        expectError(400, "PUT", "/snapshots", new JsonObject().put("name", "main@when").put("time", "yesterday"), "ISO-8601");
        expectError(404, "GET", "/snapshots/main@nope", null, "not found");
        expectError(404, "PUT", "/pgs", new JsonObject().put("name", "x").put("snapshot", "main@nope"), "not found");
        expectError(400, "PUT", "/pgs", new JsonObject().put("name", "x").put("lsn", "0/1"), "needs the pg");
        expectError(400, "PUT", "/pgs", new JsonObject().put("name", "x").put("from", "main").put("lsn", "0/10"),
                "retention horizon");
        expectError(400, "POST", "/pgs/main/actions", new JsonObject().put("action", "checkout"), "exactly one");
        assertEquals(before, snapshotsAndPgs());

        // not at a record boundary: rounded down, and said so
        String s1 = lsns.get(0);
        String inside = dev.zenith.wal.Lsn.parse(s1).plus(-3).toString();
        JsonObject rounded = (JsonObject) d.ok(201, "PUT", "/snapshots",
                new JsonObject().put("name", "main@rounded").put("lsn", inside).encode());
        assertTrue(rounded.getString("note").contains("rounded down"), rounded.encode());
        assertTrue(dev.zenith.wal.Lsn.parse(rounded.getString("lsn")).compareTo(dev.zenith.wal.Lsn.parse(inside)) < 0);
        d.ok(200, "DELETE", "/snapshots/main@rounded", null);

        // a snapshot a branch stands on cannot go
        create(new JsonObject().put("name", "child").put("snapshot", "main@s3").put("start", false));
        expectError(409, "DELETE", "/snapshots/main@s3", null, "pg 'child', whose history branches there");
        drop("child");
    }

    /** Conflicts name the pgs and snapshots involved, and what to run, not timeline ids. */
    @Test
    void conflictsNamePgsAndSnapshotsAndWhatToRun() throws Exception {
        create(new JsonObject().put("name", "mover").put("from", "main").put("start", false));
        d.ok(201, "PUT", "/snapshots", new JsonObject().put("name", "mover@x").encode());
        d.ok(200, "POST", "/pgs/mover/actions", new JsonObject().put("action", "checkout").put("snapshot", "mover@x").encode());
        // The case: the pg that stands on it is the snapshot's own pg, after a checkout.
        HttpResponse<String> r = d.request("DELETE", "/snapshots/mover@x", null);
        assertEquals(409, r.statusCode(), r.body());
        String error = new JsonObject(r.body()).getString("error");
        assertTrue(error.contains("pg 'mover', whose history branches there (move it: pg checkout mover mover@HEAD1;"
                + " or pg destroy mover)"), error);
        assertTrue(!error.matches(".*[0-9a-f]{32}.*"), "no timeline id: " + error);
        d.ok(200, "POST", "/pgs/mover/actions", new JsonObject().put("action", "checkout").put("snapshot", "mover@HEAD1").encode());
        // Now only the state mover left at its second checkout (on the branch of mover@x) stands on it.
        expectError(409, "DELETE", "/snapshots/mover@x", null, "snapshot 'mover@HEAD2', the state pg 'mover' left at a"
                + " checkout, which lies on such a branch (snapshot destroy mover@HEAD2)");
        d.ok(200, "DELETE", "/snapshots/mover@HEAD2", null);
        d.ok(200, "DELETE", "/snapshots/mover@x", null);
        d.ok(200, "POST", "/pgs/mover/actions", new JsonObject().put("action", "stop").encode());

        // Two pgs on one history: the running primary is named, with what to do.
        create(new JsonObject().put("name", "twin").put("start", false));
        expectError(409, "POST", "/pgs/twin/actions", new JsonObject().put("action", "start"),
                "pg 'main' is already running as the primary of the history pg 'twin' is on; stop it first (pg stop main)");
        drop("twin");
        drop("mover");
        d.ok(200, "DELETE", "/snapshots/mover@HEAD1", null);
    }

    @Test
    void pointsAtTheEdgesOfHistoryAreUsable() throws Exception {
        // The horizon as the error shows it is the start of the oldest image's checkpoint record: that LSN, an
        // LSN inside that record, and a time before our first commit are all the image's data, at the record's end.
        HttpResponse<String> old = d.request("PUT", "/snapshots", new JsonObject().put("name", "main@edge0").put("lsn", "0/10").encode());
        String error = new JsonObject(old.body()).getString("error");
        Lsn horizon = Lsn.parse(error.substring(error.lastIndexOf('(') + 1, error.lastIndexOf(')')));
        JsonObject atHorizon = (JsonObject) d.ok(201, "PUT", "/snapshots",
                new JsonObject().put("name", "main@edge1").put("lsn", horizon.toString()).encode());
        Lsn imageStart = Lsn.parse(atHorizon.getString("lsn"));
        assertTrue(imageStart.compareTo(horizon) > 0, atHorizon.encode());
        assertTrue(atHorizon.getString("note").contains("same data"), atHorizon.encode());
        JsonObject inside = (JsonObject) d.ok(201, "PUT", "/snapshots",
                new JsonObject().put("name", "main@edge2").put("lsn", horizon.plus(8).toString()).encode());
        assertEquals(imageStart.toString(), inside.getString("lsn"), inside.encode());
        JsonObject beforeUs = (JsonObject) d.ok(201, "PUT", "/snapshots",
                new JsonObject().put("name", "main@edge3").put("time", beforeFirstCommit.toString()).encode());
        assertEquals(imageStart.toString(), beforeUs.getString("lsn"), beforeUs.encode());
        int port = create(new JsonObject().put("name", "edge").put("snapshot", "main@edge3").put("read_only", true))
                .getInteger("port");
        assertEquals("0", d.psql(port, "SELECT count(*) FROM pg_extension WHERE extname = 'amcheck'"));
        drop("edge");

        // PostgreSQL's own position of an idle pg (the end of WAL rounded up to 8 bytes) is the end of WAL.
        d.psql(mainPort, "CREATE TABLE IF NOT EXISTS edge_marks (t text)");
        Lsn end = null;
        for (int i = 1; i <= 40 && end == null; i++) {
            d.psql(mainPort, "INSERT INTO edge_marks VALUES (repeat('x', " + i + "))");
            JsonObject now = (JsonObject) d.ok(201, "PUT", "/snapshots", new JsonObject().put("name", "main@edge-now").encode());
            d.ok(200, "DELETE", "/snapshots/main@edge-now", null);
            Lsn e = Lsn.parse(now.getString("lsn"));
            end = e.value() % 8 != 0 ? e : null;
        }
        assertTrue(end != null, "no record of 40 ended off an 8-byte boundary");
        Lsn aligned = Lsn.of((end.value() + 7) & ~7L);
        JsonObject atEnd = (JsonObject) d.ok(201, "PUT", "/snapshots",
                new JsonObject().put("name", "main@edge4").put("lsn", aligned.toString()).encode());
        // (unless more WAL came meanwhile, which makes the aligned position the next record's start)
        assertTrue(atEnd.getString("lsn").equals(end.toString()) || atEnd.getString("lsn").equals(aligned.toString()), atEnd.encode());
        // just past the end is refused; an idle pg's background WAL (a running-xacts record) may move the end past
        // the LSN asked meanwhile: then the snapshot is taken, and the next end is tried
        HttpResponse<String> past = null;
        for (int i = 0; i < 10; i++) {
            Lsn now = Lsn.parse(((JsonObject) d.ok(201, "PUT", "/snapshots", new JsonObject().put("name", "main@edge-now").encode()))
                    .getString("lsn"));
            d.ok(200, "DELETE", "/snapshots/main@edge-now", null);
            Lsn beyond = Lsn.of(((now.value() + 7) & ~7L) + 8);
            past = d.request("PUT", "/snapshots", new JsonObject().put("name", "main@edge5").put("lsn", beyond.toString()).encode());
            if (past.statusCode() != 201) {
                break;
            }
            d.ok(200, "DELETE", "/snapshots/main@edge5", null);
        }
        assertEquals(400, past.statusCode(), past.body());
        assertTrue(new JsonObject(past.body()).getString("error").contains("beyond the end of WAL"), past.body());

        // times and windows that do not fit a PostgreSQL timestamp are refused, not a 500
        expectError(400, "PUT", "/snapshots", new JsonObject().put("name", "main@edge6").put("time", "+999999999-12-31T23:59:59Z"),
                "out of range");
        expectError(400, "PUT", "/pgs", new JsonObject().put("name", "edge").put("from", "main")
                .put("time", "-999999999-01-01T00:00:00Z"), "out of range");
        expectError(400, "POST", "/storages/local/gc", new JsonObject().put("pitr", "999999999d"), "at most 36500d");
        for (int i = 1; i <= 4; i++) {
            d.ok(200, "DELETE", "/snapshots/main@edge" + i, null);
        }
    }

    private static void expectError(int status, String method, String path, JsonObject body, String text) throws Exception {
        HttpResponse<String> r = d.request(method, path, body == null ? null : body.encode());
        assertEquals(status, r.statusCode(), method + " " + path + ": " + r.body());
        assertTrue(new JsonObject(r.body()).getString("error").contains(text), r.body());
    }
}
