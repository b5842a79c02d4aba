package dev.zenith.server.remote;

import dev.zenith.server.testing.DaemonFixture;
import dev.zenith.server.testing.MaterializedSteps;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.testkit.PgCluster;
import dev.zenith.wal.Lsn;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A later push after {@code storage gc --pitr 0s} freed the WAL of the image the first push was made from: it reuses
 * that base as the remote holds it (files, anchor, WAL pieces up to the first snapshot) and sends only the WAL written
 * between the snapshots, not the relation files of the base the collection kept. A daemon that never saw the history
 * pulls the later snapshot and branches it: the branch holds what A held there.
 */
@Tag("pg")
@Tag("slow")
class PushAfterGcTest {

    @Test
    void aPushAfterACollectionSendsOnlyTheWalSinceTheEarlierSnapshot() throws Exception {
        Path shared = DaemonFixture.reachableTempDir("remote-");
        try (DaemonFixture a = new DaemonFixture(); DaemonFixture b = new DaemonFixture();
             MaterializedSteps steps = new MaterializedSteps()) {
            a.startInProcess();
            b.startInProcess();
            JsonObject remote = new JsonObject().put("name", "team").put("url", "file://" + shared);
            a.ok(201, "PUT", "/remotes", remote.encode());
            b.ok(201, "PUT", "/remotes", remote.encode());
            int port = a.createPg("main").getInteger("port");
            TimelineId tl = TimelineId.parse(a.pg("main").getString("timeline_id"));
            a.pgbench(port, "-i", "-s", "2", "-q");
            for (int i = 0; i < 2; i++) { // steps after the image: a collection can free the image's WAL
                a.pgbench(port, "-n", "-c", "2", "-t", "200");
                Lsn lastRedo = Lsn.parse(a.psql(port, "SELECT redo_lsn FROM pg_control_checkpoint()"));
                a.psql(port, "CHECKPOINT");
                steps.await(tl, lastRedo);
            }
            a.pgbench(port, "-n", "-c", "2", "-t", "100");
            Lsn s1 = Lsn.parse(((JsonObject) a.ok(201, "PUT", "/snapshots", new JsonObject().put("name", "main@s1").encode()))
                    .getString("lsn"));
            JsonObject first = SnapshotPushPullTest.push(a, "main@s1"); // from the image: its WAL is stored
            assertTrue(first.getLong("bytes") > 10_000_000, first.encode());

            JsonObject freed = (JsonObject) a.ok(200, "POST", "/storages/local/gc", new JsonObject().put("pitr", "0s").encode());
            assertTrue(freed.getLong("wal_bytes_freed") > 0, "the image's WAL went: " + freed.encode());

            a.pgbench(port, "-n", "-c", "2", "-t", "300");
            JsonObject s2 = (JsonObject) a.ok(201, "PUT", "/snapshots", new JsonObject().put("name", "main@s2").encode());
            String stateAtS2 = a.psql(port, SnapshotPushPullTest.STATE);
            long walBetween = Lsn.parse(s2.getString("lsn")).minus(s1);
            JsonObject second = SnapshotPushPullTest.push(a, "main@s2");
            long content = second.getLong("bytes") - second.getLong("bytes_skipped");
            System.out.println("first push " + first.encode() + "; after " + freed.encode() + " the second " + second.encode()
                    + " for " + walBetween + " bytes of WAL between the snapshots");
            assertTrue(content <= 1.2 * walBetween, "the second push sent " + content + " bytes of content for " + walBetween
                    + " bytes of WAL written since the first: " + second.encode());
            assertTrue(second.getLong("bytes_sent") <= 1.2 * walBetween, second.encode());

            SnapshotPushPullTest.pull(b, "main@s2");
            int copy = b.branch("copy", "main@s2");
            assertEquals(stateAtS2, b.psql(copy, SnapshotPushPullTest.STATE), "B's branch holds what A did at main@s2");
            b.amcheck(copy, "--all", "--install-missing");
        } finally {
            PgCluster.deleteTree(shared);
        }
    }
}
