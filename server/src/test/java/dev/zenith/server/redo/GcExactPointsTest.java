package dev.zenith.server.redo;

import dev.zenith.pgexec.FileTrees;
import dev.zenith.server.testing.DaemonFixture;
import dev.zenith.server.testing.MaterializedSteps;
import dev.zenith.storage.Store;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.wal.Lsn;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Retained points stay exact after {@code storage gc --pitr 0s}, read through the page service (every block, size and
 * existence against a reference directory built by crash recovery before the collection) and through time travel
 * ({@code pg create --lsn} / {@code --snapshot}: the data dumps as the pg did there).
 */
@Tag("pg")
@Tag("slow")
class GcExactPointsTest {
    private static final String PASSWORD = "gc-secret";

    /**
     * Image mode ({@code redo.start_from_anchors = false}): a branch's snapshot lies before its first own image, its
     * checkpoints made materialization steps before and after the snapshot, and its clean stop an image after them. A
     * GetPage at the snapshot replays from the step below it, starting from the newest versions at or below that step's
     * redo point; the collection must not thin them away as superseded by the newer steps' versions below the image.
     */
    @Test
    void inImageModeACollectionKeepsTheStepVersionsABranchsPointBeforeItsFirstImageReadsFrom() throws Exception {
        try (DaemonFixture d = new DaemonFixture(); MaterializedSteps steps = new MaterializedSteps()) {
            d.redoSettings.put("start_from_anchors", false);
            d.pgSettings.put("replication_password", PASSWORD);
            d.startInProcess();
            int main = d.createPg("main").getInteger("port");
            d.pgbench(main, "-i", "-s", "1", "-q");
            snapshot(d, "main@fork");
            int br = d.branch("br", "main@fork");
            TimelineId brTl = TimelineId.parse(d.pg("br").getString("timeline_id"));
            rounds(d, br, brTl, steps, 1); // a step of the branch below the snapshot
            d.pgbench(br, "-n", "-c", "2", "-j", "2", "-t", "75");
            Lsn s = snapshot(d, "br@s");
            rounds(d, br, brTl, steps, 2); // steps after it, whose versions supersede the first step's
            d.action("br", "stop"); // the branch's first own image, after the snapshot
            PageServiceAnswers.awaitIndexed(d, brTl, s);

            Map<Lsn, Path> references = references(d, brTl, List.of(s), "image-mode");
            try {
                JsonObject freed = collect(d);
                String tenant = ((JsonObject) d.ok(200, "GET", "/storages/local", null)).getString("tenant_id");
                PageServiceAnswers.assertAnswersEqual(List.of(PageServiceAnswers.ask(d, "br", PASSWORD, tenant, brTl, s)),
                        references, "image mode after GC " + freed.encode(), 2000);
            } finally {
                deleteAll(references);
            }
        }
    }

    /**
     * Pages mode (the default): a primary runs pgbench with checkpoints and never stops cleanly before two snapshots,
     * so the collection frees the WAL since initdb and thins versions. At both snapshots the page service answers as
     * crash recovery did there before the collection, and a pg created at one snapshot's LSN ({@code --from main
     * --lsn}) and one at the other snapshot dump as main did at each.
     */
    @Test
    void onPagesGetPageAndTimeTravelAtSnapshotsStayExactAfterACollection() throws Exception {
        try (DaemonFixture d = new DaemonFixture(); MaterializedSteps steps = new MaterializedSteps()) {
            d.pgSettings.put("replication_password", PASSWORD);
            d.startInProcess();
            int main = d.createPg("main").getInteger("port");
            TimelineId tl = TimelineId.parse(d.pg("main").getString("timeline_id"));
            d.pgbench(main, "-i", "-s", "1", "-q");
            rounds(d, main, tl, steps, 2);
            d.pgbench(main, "-n", "-c", "2", "-j", "2", "-t", "75");
            String atA = d.dump(main);
            Lsn a = snapshot(d, "main@a");
            rounds(d, main, tl, steps, 2);
            d.pgbench(main, "-n", "-c", "2", "-j", "2", "-t", "75");
            String atB = d.dump(main);
            Lsn b = snapshot(d, "main@b");
            rounds(d, main, tl, steps, 2);
            PageServiceAnswers.awaitIndexed(d, tl, b);

            Map<Lsn, Path> references = references(d, tl, List.of(a, b), "pages");
            try {
                JsonObject freed = collect(d);
                assertTrue(freed.getLong("wal_bytes_freed") > 0 && freed.getLong("page_versions_freed") > 0, freed.encode());
                String tenant = ((JsonObject) d.ok(200, "GET", "/storages/local", null)).getString("tenant_id");
                List<PageServiceAnswers.Answers> answers = new ArrayList<>();
                for (Lsn x : List.of(a, b)) {
                    answers.add(PageServiceAnswers.ask(d, "main", PASSWORD, tenant, tl, x));
                }
                PageServiceAnswers.assertAnswersEqual(answers, references, "pages after GC " + freed.encode(), 4000);

                int atLsn = ((JsonObject) d.ok(201, "PUT", "/pgs", new JsonObject().put("name", "ta").put("from", "main")
                        .put("lsn", a.toString()).encode())).getInteger("port");
                assertEquals(atA, d.dump(atLsn), "pg create --from main --lsn " + a + " after GC");
                int atSnapshot = d.branch("tb", "main@b");
                assertEquals(atB, d.dump(atSnapshot), "pg create --snapshot main@b after GC");
            } finally {
                deleteAll(references);
            }
        }
    }

    /**
     * Reference directories at {@code points} of the timeline, built by crash recovery from the store's image and all
     * its WAL while the daemon is stopped (its pgs stop cleanly); then the daemon starts again on the same home.
     */
    private static Map<Lsn, Path> references(DaemonFixture d, TimelineId tl, List<Lsn> points, String what)
            throws Exception {
        Path storePath = Path.of(((JsonObject) d.ok(200, "GET", "/storages/local", null)).getString("path"));
        d.inProcessShutdownKeepingHome();
        Map<Lsn, Path> out = new LinkedHashMap<>();
        try (Store store = Store.open(storePath)) {
            for (Lsn p : points) {
                out.put(p, PageServiceAnswers.reference(d, store, tl, p, what));
            }
        }
        d.startInProcess();
        return out;
    }

    private static void deleteAll(Map<Lsn, Path> references) throws java.io.IOException {
        for (Path data : references.values()) {
            FileTrees.delete(data.getParent());
        }
    }

    private static JsonObject collect(DaemonFixture d) throws Exception {
        JsonObject freed = (JsonObject) d.ok(200, "POST", "/storages/local/gc", new JsonObject().put("pitr", "0s").encode());
        System.out.println("collected: " + freed.encode());
        return freed;
    }

    /** pgbench (counted: at any load it changes pages), then a checkpoint (an anchor), until background materialization made its step. */
    private static void rounds(DaemonFixture d, int port, TimelineId tl, MaterializedSteps steps, int n) throws Exception {
        for (int i = 0; i < n; i++) {
            d.pgbench(port, "-n", "-c", "2", "-j", "2", "-t", "75");
            Lsn lastRedo = Lsn.parse(d.psql(port, "SELECT redo_lsn FROM pg_control_checkpoint()"));
            d.psql(port, "CHECKPOINT");
            steps.await(tl, lastRedo);
        }
    }

    private static Lsn snapshot(DaemonFixture d, String name) throws Exception {
        return Lsn.parse(((JsonObject) d.ok(201, "PUT", "/snapshots", new JsonObject().put("name", name).encode())).getString("lsn"));
    }
}
