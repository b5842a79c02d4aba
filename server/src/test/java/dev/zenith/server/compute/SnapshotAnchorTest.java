package dev.zenith.server.compute;

import dev.zenith.server.testing.DaemonFixture;
import dev.zenith.wal.Lsn;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A snapshot of a running primary's present is its own anchor (docs/page-versions.md, "Snapshots of a running
 * primary"): {@code snapshot create} has the compute checkpoint, and the snapshot's point lies after that checkpoint's
 * record, whose anchor is stored before it returns. Once materialized, a branch of the snapshot starts from that
 * anchor and replays only the WAL from its redo point, not everything written since the previous anchor. Taken while
 * pgbench writes: the branch keeps pgbench's invariant (the balances of accounts, tellers, branches and the history
 * agree) and pg_amcheck finds nothing; taken at rest: the branch dumps equal to the primary. A snapshot at an LSN
 * asks for no checkpoint.
 */
@Tag("pg")
@Tag("slow")
class SnapshotAnchorTest {
    private static final Pattern CHECKPOINTED = Pattern.compile(
            "pg main: checkpoint (\\S+) for a snapshot in \\d+ ms, its anchor \\(redo point (\\S+)\\) stored");

    @Test
    void aSnapshotOfARunningPrimaryIsItsOwnAnchorAndItsBranchReplaysFromThere() throws Exception {
        try (DaemonFixture d = new DaemonFixture()) {
            d.startProcess(); // its own JVM: checkpoints, steps and rebuilds are told in ZENITH_HOME/zenith.log
            int port = d.createPg("main").getInteger("port");
            d.pgbench(port, "-i", "-s", "2", "-q");
            d.psql(port, "CHECKPOINT");
            d.awaitStepOfAnchor(Lsn.parse(d.psql(port, "SELECT redo_lsn FROM pg_control_checkpoint()")));

            // While pgbench writes (until stopped once the snapshot is taken: at any load it writes all through it)
            Path writerOut = d.home.resolve("writer.out");
            Process writer = d.withCredentials(new ProcessBuilder(d.pg.bin("pgbench").toString(), "-h", "127.0.0.1",
                    "-p", Integer.toString(port), "-U", "postgres", "-n", "-c", "2", "-j", "2", "-T", "600", "postgres"),
                    port).redirectErrorStream(true).redirectOutput(writerOut.toFile()).start();
            d.pgbench(port, "-n", "-c", "1", "-t", "200"); // writes after the anchor, whatever the writer's pace
            Lsn before = Lsn.parse(d.psql(port, "SELECT pg_current_wal_lsn()"));
            int logBefore = d.log().length();
            Lsn during = snapshot(d, "main@during");
            assertTrue(writer.isAlive(), "pgbench stopped before the snapshot was taken:\n" + Files.readString(writerOut));
            writer.destroy(); // its open transactions roll back: nothing it does after the snapshot is in it
            assertTrue(writer.waitFor(1, TimeUnit.MINUTES), "pgbench did not stop");
            Matcher m = CHECKPOINTED.matcher(d.log().substring(logBefore));
            assertTrue(m.find(), "no checkpoint for the snapshot:\n" + d.log());
            Lsn checkpoint = Lsn.parse(m.group(1));
            Lsn redo = Lsn.parse(m.group(2));
            assertTrue(checkpoint.isAfter(before) && checkpoint.isBefore(during), before + " < " + checkpoint + " < " + during);
            d.awaitStepOfAnchor(redo);

            int b = d.branch("during", "main@during");
            String rebuilt = rebuildOf(d, "during");
            assertTrue(rebuilt.contains("at the anchor " + checkpoint + " ") && rebuilt.contains("plus WAL " + redo + ".."),
                    "the branch starts from the snapshot's own anchor: " + rebuilt);
            assertEquals("t", d.psql(b, "SELECT (SELECT sum(abalance) FROM pgbench_accounts) = (SELECT sum(delta) FROM"
                    + " pgbench_history) AND (SELECT sum(tbalance) FROM pgbench_tellers) = (SELECT sum(delta) FROM"
                    + " pgbench_history) AND (SELECT sum(bbalance) FROM pgbench_branches) = (SELECT sum(delta) FROM"
                    + " pgbench_history)"));
            d.amcheck(b, "--all", "--install-missing");

            // At rest: the branch is the primary as it was.
            d.pgbench(port, "-n", "-c", "2", "-t", "200");
            String atRest = d.dump(port);
            logBefore = d.log().length();
            snapshot(d, "main@rest");
            m = CHECKPOINTED.matcher(d.log().substring(logBefore));
            assertTrue(m.find(), "no checkpoint for the snapshot:\n" + d.log());
            d.awaitStepOfAnchor(Lsn.parse(m.group(2)));
            int r = d.branch("rest", "main@rest");
            assertTrue(rebuildOf(d, "rest").contains("at the anchor " + m.group(1) + " "), rebuildOf(d, "rest"));
            assertEquals(atRest, d.dump(r));
            d.amcheck(r, "--all", "--install-missing");

            // A past point is what it was: no checkpoint asked for.
            logBefore = d.log().length();
            d.ok(201, "PUT", "/snapshots", new JsonObject().put("name", "main@past").put("lsn", during.toString()).encode());
            assertTrue(!CHECKPOINTED.matcher(d.log().substring(logBefore)).find(), d.log().substring(logBefore));
        }
    }

    private static Lsn snapshot(DaemonFixture d, String name) throws Exception {
        return Lsn.parse(((JsonObject) d.ok(201, "PUT", "/snapshots", new JsonObject().put("name", name).encode()))
                .getString("lsn"));
    }

    /** The daemon's log line of the pg's rebuild. */
    private static String rebuildOf(DaemonFixture d, String pg) {
        Matcher m = Pattern.compile("(?m)^.*rebuilt \\S+/" + Pattern.quote(pg) + " from .*$").matcher(d.log());
        assertTrue(m.find(), "no rebuild of " + pg + ":\n" + d.log());
        return m.group();
    }
}
