package dev.zenith.server.compute;

import dev.zenith.server.testing.WalServiceClients;
import dev.zenith.server.testing.WalServiceTestBase;
import dev.zenith.testkit.PgCluster;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every branch and checkout ends recovery on a PostgreSQL timeline of its own, as PostgreSQL does at the
 * end of archive recovery: its WAL has segment names and a history file no other history of the
 * storage has, so standbys and pg_receivewal following a pg by name tell its histories apart.
 */
@Tag("pg")
class PgTimelineTest extends WalServiceTestBase {

    @Test
    void branchesBeginTimelinesOfTheirOwnThatSurviveRebuilds() throws Exception {
        int main = d.createPg("main").getInteger("port");
        d.psql(main, "CREATE TABLE t (id int); INSERT INTO t SELECT generate_series(1, 100)");
        JsonObject b1 = (JsonObject) d.ok(201, "PUT", "/pgs", new JsonObject().put("name", "b1").put("from", "main").encode());
        int branch = b1.getInteger("port");
        assertEquals("1", d.pgTimeline(main));
        assertEquals("2", d.pgTimeline(branch), "a branch's first start");
        // Promoted at the end of its replay: no synchronous end-of-recovery checkpoint before it took connections.
        String branchLog = Files.readString(Path.of(b1.getString("logfile")));
        assertTrue(branchLog.contains("promote trigger file found"), branchLog);
        assertFalse(branchLog.contains("checkpoint starting: end-of-recovery"), branchLog);
        // The checkpoint the promotion requested is spread over ~54 s (SpreadFirstCheckpoint), not written at once
        // over the first queries; once one completed on the new timeline the daemon has the ordinary settings reloaded.
        assertEquals("0.9", d.psql(branch, "SHOW checkpoint_completion_target"), "the first checkpoint is spread");
        d.psql(branch, "CHECKPOINT"); // pg_control's checkpoint names the new timeline from the first one on it
        assertEquals("2", d.psql(branch, "SELECT timeline_id FROM pg_control_checkpoint()"));
        String target = "";
        for (long deadline = System.nanoTime() + 60_000_000_000L; !target.equals("0") && System.nanoTime() < deadline; ) {
            Thread.sleep(100);
            target = d.psql(branch, "SHOW checkpoint_completion_target");
        }
        assertEquals("0", target, "the computes' checkpoint_completion_target back after the first checkpoint");
        assertEquals("100", d.psql(branch, "SELECT count(*) FROM t"));
        Path history = Path.of(b1.getString("pgdata"), "pg_wal", "00000002.history");
        WalServiceClients.Result served = clients.psql("options='-c zenith.pg=b1'", "TIMELINE_HISTORY 2");
        assertEquals("00000002.history|" + Files.readString(history).strip(), served.output(), "the history we serve is PostgreSQL's");
        assertTrue(clients.psql("options='-c zenith.pg=b1'", "IDENTIFY_SYSTEM").output().contains("|2|"));

        // A second branch, of the branch this time, takes the next number; neither reuses another's.
        d.psql(branch, "INSERT INTO t SELECT generate_series(101, 150)");
        int b2 = ((JsonObject) d.ok(201, "PUT", "/pgs", new JsonObject().put("name", "b2").put("from", "b1").encode()))
                .getInteger("port");
        assertEquals("3", d.pgTimeline(b2));
        assertEquals("150", d.psql(b2, "SELECT count(*) FROM t"));

        // A base backup of it: from the newest base below its end, main's image before the switch (timeline 1)
        // or a materialized checkpoint of b1's own after it (timeline 2), whichever background work has made.
        Path backup = work.resolve("b1-backup");
        clients.run("pg_basebackup", "-d", "host=127.0.0.1 port=" + d.pgPort + " user=zenith options='-c zenith.pg=b1'",
                "-D", backup.toString(), "-X", "stream", "-c", "fast");
        String verified = clients.offline("pg_verifybackup", backup.toString());
        assertTrue(verified.contains("successfully verified"), verified);
        int backupPort = PgCluster.freePort();
        Path backupLog = work.resolve("b1-backup.log");
        clients.startServer(backup, backupPort, backupLog);
        try {
            assertEquals("150", d.psql(backupPort, "SELECT count(*) FROM t"), Files.readString(backupLog));
        } finally {
            clients.stopServer(backup);
        }

        // Killed before any clean stop, its directory gone: rebuilt from main's image (timeline 1) through
        // its own WAL (timeline 2) by crash recovery, it continues timeline 2 with every commit.
        d.psql(branch, "INSERT INTO t SELECT generate_series(151, 200)");
        Path pgdata = Path.of(b1.getString("pgdata"));
        long postmaster = Long.parseLong(Files.readAllLines(pgdata.resolve("postmaster.pid")).get(0).trim());
        ProcessHandle.of(postmaster).ifPresent(h -> {
            h.descendants().forEach(ProcessHandle::destroyForcibly);
            h.destroyForcibly();
        });
        d.awaitJson("/pgs/b1", j -> "stopped".equals(j.getString("status")));
        PgCluster.deleteTree(pgdata);
        d.action("b1", "start");
        assertEquals("200", d.psql(branch, "SELECT count(*) FROM t"));
        assertEquals("2", d.pgTimeline(branch));
        d.amcheck(branch, "-d", "postgres", "--install-missing");
        assertEquals("100", d.psql(main, "SELECT count(*) FROM t"));
    }

    @Test
    void checkoutsBeginNewTimelinesThatPgReceivewalKeepsApart() throws Exception {
        int main = d.createPg("main").getInteger("port");
        d.psql(main, "CREATE TABLE t (id int); INSERT INTO t SELECT generate_series(1, 100)");
        d.ok(201, "PUT", "/snapshots", new JsonObject().put("name", "main@hundred").encode());
        d.psql(main, "INSERT INTO t SELECT generate_series(101, 200)");

        JsonObject out = (JsonObject) d.ok(200, "POST", "/pgs/main/actions",
                new JsonObject().put("action", "checkout").put("snapshot", "main@hundred").encode());
        assertEquals("main@HEAD1", out.getString("saved_as"));
        assertEquals("100", d.psql(main, "SELECT count(*) FROM t"));
        assertEquals("2", d.pgTimeline(main));
        d.psql(main, "INSERT INTO t SELECT generate_series(1001, 1010)");

        // Back to the state it left: yet another history, so another number, not 1 again.
        d.ok(200, "POST", "/pgs/main/actions", new JsonObject().put("action", "checkout").put("snapshot", "main@HEAD1").encode());
        assertEquals("200", d.psql(main, "SELECT count(*) FROM t"));
        assertEquals("3", d.pgTimeline(main));
        d.psql(main, "INSERT INTO t VALUES (2000)");
        String end = d.psql(main, "SELECT pg_current_wal_flush_lsn()");

        Path received = Files.createDirectories(work.resolve("received"));
        String log = clients.run("pg_receivewal", "-d", "host=127.0.0.1 port=" + d.pgPort
                + " user=zenith options='-c zenith.pg=main'", "-D", received.toString(), "--no-loop", "-v", "-E", end);
        Set<String> files;
        try (var list = Files.list(received)) {
            files = list.map(p -> p.getFileName().toString()).collect(Collectors.toSet());
        }
        assertTrue(files.contains("00000003.history"), files + "\n" + log);
        assertTrue(files.stream().anyMatch(f -> f.startsWith("00000003") && !f.endsWith(".history")), files + "\n" + log);
        assertTrue(Files.readString(received.resolve("00000003.history")).startsWith("1\t"), "forked off timeline 1");
    }

    @Test
    void aStandbyFollowingThePgByNameSwitchesToTheCheckoutsTimeline() throws Exception {
        JsonObject pg = d.createPg("main");
        int main = pg.getInteger("port");
        d.psql(main, "CREATE TABLE t (id int); INSERT INTO t SELECT generate_series(1, 1000)");
        Path standby = work.resolve("standby");
        clients.baseBackupAsStandby(standby, "-c zenith.pg=main"); // recovery_target_timeline 'latest', PostgreSQL's default
        int standbyPort = PgCluster.freePort();
        Path log = work.resolve("standby.log");
        try {
            clients.startServer(standby, standbyPort, log);
            assertEquals("1000", d.psql(standbyPort, "SELECT count(*) FROM t"));

            // The pg's current state, checked out: its history goes on from there on a new timeline.
            d.action("main", "stop");
            d.ok(201, "PUT", "/snapshots", new JsonObject().put("name", "main@stopped").encode());
            d.ok(200, "POST", "/pgs/main/actions",
                    new JsonObject().put("action", "checkout").put("snapshot", "main@stopped").encode());
            d.psql(main, "INSERT INTO t SELECT generate_series(1001, 1500)");
            String lsn = d.psql(main, "SELECT pg_current_wal_flush_lsn()");
            clients.awaitReplay(standbyPort, lsn, log);
            assertEquals("1500", d.psql(standbyPort, "SELECT count(*) FROM t"));
            assertEquals("2", d.psql(standbyPort, "SELECT received_tli FROM pg_stat_wal_receiver"), Files.readString(log));
            assertTrue(Files.exists(standby.resolve("pg_wal/00000002.history")));
        } finally {
            clients.stopServer(standby);
        }
        assertNotEquals(pg.getString("timeline_id"), d.pg("main").getString("timeline_id"));
    }
}
