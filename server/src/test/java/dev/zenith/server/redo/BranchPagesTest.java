package dev.zenith.server.redo;

import dev.zenith.server.testing.DaemonFixture;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.wal.Lsn;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A branch before its first clean stop, over the page service: its only image is its parent's
 * (initdb's), its PostgreSQL timeline began at the branch point (the parent's is another), and its
 * pages changed since; the parent's checkpoints and its own are anchors. At LSNs on the branch (before
 * and after its own checkpoint) every block of every main, visibility-map and init fork, each fork's
 * existence and size, the database's size and {@code GET /pgs/NAME/relations?lsn=} equal a reference
 * directory built by PostgreSQL's crash recovery at that LSN from the image and all WAL since (across
 * the timeline switch, as a rebuild replays it), free-space maps included (their lengths, from the store's
 * redo: docs/page-versions.md, "Free-space maps"). Pages are byte-equal or equal after bufmask masking.
 */
@Tag("pg")
@Tag("slow")
class BranchPagesTest {
    private static final String PASSWORD = "branch-secret";

    @Test
    void aBranchBeforeItsFirstCleanStopAnswersAsCrashRecoveryAtThatLsn() throws Exception {
        DaemonFixture d = new DaemonFixture();
        try {
            d.pgSettings.put("replication_password", PASSWORD);
            d.startInProcess();
            int main = d.createPg("main").getInteger("port");
            d.pgbench(main, "-i", "-s", "1", "-q");
            d.pgbench(main, "-n", "-c", "2", "-j", "2", "-t", "75");
            d.psql(main, "CHECKPOINT");
            d.pgbench(main, "-n", "-c", "2", "-j", "2", "-t", "75");
            Lsn fork = snapshot(d, "main@fork");
            int br = ((JsonObject) d.ok(201, "PUT", "/pgs", new JsonObject().put("name", "br").put("snapshot", "main@fork")
                    .encode())).getInteger("port");
            d.pgbench(br, "-n", "-c", "2", "-j", "2", "-t", "75");
            d.psql(br, "CREATE TABLE grown AS SELECT g AS a, repeat('x', 200) AS b FROM generate_series(1, 20000) g");
            Lsn first = snapshot(d, "br@first");
            d.psql(br, "CHECKPOINT");
            d.pgbench(br, "-n", "-c", "2", "-j", "2", "-t", "75");
            d.psql(br, "DELETE FROM grown WHERE a % 3 = 0");
            d.psql(br, "VACUUM grown");
            Lsn second = snapshot(d, "br@second");
            JsonObject storage = (JsonObject) d.ok(200, "GET", "/storages/local", null);
            String tenant = storage.getString("tenant_id");
            Path storePath = Path.of(storage.getString("path"));
            JsonObject pg = d.pg("br");
            TimelineId branch = TimelineId.parse(pg.getString("timeline_id"));
            PageServiceAnswers.awaitIndexed(d, branch, second);
            timelinesListTheBranch(d, d.pg("main").getString("timeline_id"), branch, fork, second);

            List<PageServiceAnswers.Answers> answers = new ArrayList<>();
            for (Lsn x : List.of(first, second)) {
                answers.add(PageServiceAnswers.ask(d, "br", PASSWORD, tenant, branch, x));
            }
            for (PageServiceAnswers.Answers a : answers) {
                // asked again: each block now read by the key of the version the first read proved (many the parent's)
                PageServiceAnswers.Answers again = PageServiceAnswers.ask(d, "br", PASSWORD, tenant, branch, a.lsn());
                assertEquals(a.pages().keySet(), again.pages().keySet());
                a.pages().forEach((rel, page) -> assertArrayEquals(page, again.pages().get(rel), rel.path() + " at " + a.lsn()));
            }
            d.inProcessShutdownKeepingHome(); // stops br cleanly: its first image comes after both LSNs

            PageServiceAnswers.assertAnswersEqualCrashRecovery(d, storePath, branch, answers, "branch", 4000);
        } finally {
            d.close();
        }
    }

    /**
     * A promotion is a PostgreSQL timeline switch too: the promoted timeline's records before the clean stop the
     * promotion makes (its end of recovery, a checkpoint) come after the switch, and its only bases are its
     * parent's. At the last record end before its first image, every answer equals a reference recovered across
     * the switch; the free-space maps take a redo run from the parent's image on the old timeline to the new one.
     */
    @Test
    void aPromotedTimelineBeforeItsFirstImageAnswersAsCrashRecoveryAcrossTheSwitch() throws Exception {
        DaemonFixture d = new DaemonFixture();
        try {
            d.pgSettings.put("replication_password", PASSWORD);
            d.startInProcess();
            int main = d.createPg("main").getInteger("port");
            d.pgbench(main, "-i", "-s", "1", "-q");
            d.psql(main, "CHECKPOINT");
            d.pgbench(main, "-n", "-c", "2", "-j", "2", "-t", "75");
            int rep = ((JsonObject) d.ok(201, "PUT", "/pgs", new JsonObject().put("name", "rep").put("replica_of", "main")
                    .encode())).getInteger("port");
            d.action("main", "stop");
            JsonObject promoted = d.action("rep", "promote"); // waits for the replay, then stops cleanly once and starts
            TimelineId tl = TimelineId.parse(promoted.getString("timeline_id"));
            assertEquals("f", d.psql(rep, "SELECT pg_is_in_recovery()"));
            JsonObject switched = null;
            for (Object o : (JsonArray) d.ok(200, "GET", "/storages/local/timelines", null)) {
                if (((JsonObject) o).getString("timeline_id").equals(tl.toString())) {
                    switched = (JsonObject) o;
                }
            }
            assertTrue(switched != null, "the promoted timeline is listed");
            Lsn switchPoint = Lsn.parse(switched.getString("branch_lsn"));
            // its first image is the clean stop's (zenith log: kind stop); the last record end before it is on the new timeline
            Lsn image = null;
            for (Object o : ((JsonObject) d.ok(200, "GET", "/pgs/rep/log?limit=1000", null)).getJsonArray("entries")) {
                JsonObject e = (JsonObject) o;
                Lsn at = Lsn.parse(e.getString("lsn"));
                if (e.getString("kind").equals("stop") && at.isAfter(switchPoint) && (image == null || at.isBefore(image))) {
                    image = at;
                }
            }
            assertTrue(image != null, "the promotion's clean stop is in the log");
            Lsn before = image.plus(-1);
            assertTrue(before.minus(switchPoint) > 16, "records on the new timeline before its image: " + switchPoint + ".." + image);
            JsonObject storage = (JsonObject) d.ok(200, "GET", "/storages/local", null);
            PageServiceAnswers.awaitIndexed(d, tl, image);
            PageServiceAnswers.Answers a = PageServiceAnswers.ask(d, "rep", PASSWORD, storage.getString("tenant_id"), tl, before);
            d.inProcessShutdownKeepingHome();

            PageServiceAnswers.assertAnswersEqualCrashRecovery(d, Path.of(storage.getString("path")), tl, List.of(a), "promoted", 2000);
        } finally {
            d.close();
        }
    }

    private static Lsn snapshot(DaemonFixture d, String name) throws Exception {
        return Lsn.parse(((JsonObject) d.ok(201, "PUT", "/snapshots", new JsonObject().put("name", name).encode())).getString("lsn"));
    }

    /** GET /storages/local/timelines: the branch with its parent, branch point, pg, WAL end and its parent's horizon. */
    private static void timelinesListTheBranch(DaemonFixture d, String parent, TimelineId branch, Lsn fork, Lsn written)
            throws Exception {
        JsonObject root = null;
        JsonObject child = null;
        for (Object o : (JsonArray) d.ok(200, "GET", "/storages/local/timelines", null)) {
            JsonObject t = (JsonObject) o;
            if (t.getString("timeline_id").equals(parent)) {
                root = t;
            } else if (t.getString("timeline_id").equals(branch.toString())) {
                child = t;
            }
        }
        assertTrue(root != null && child != null, "both timelines listed");
        assertEquals(parent, child.getString("parent_id"));
        assertEquals(fork, Lsn.parse(child.getString("branch_lsn")));
        assertEquals(new JsonArray().add("br"), child.getJsonArray("pgs"));
        assertTrue(!Lsn.parse(child.getString("end_lsn")).isBefore(written), child.encode());
        assertEquals(root.getString("retention_horizon"), child.getString("retention_horizon"), "the parent's image is the branch's horizon");
        assertTrue(child.getInteger("pg_timeline") > root.getInteger("pg_timeline"), "its own PostgreSQL timeline: " + child.encode());
    }
}
