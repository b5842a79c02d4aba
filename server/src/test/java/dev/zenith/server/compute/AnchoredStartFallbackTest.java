package dev.zenith.server.compute;

import dev.zenith.server.anchor.AnchoredStart;
import dev.zenith.server.testing.DaemonFixture;
import dev.zenith.storage.Store;
import dev.zenith.storage.anchor.StoredAnchor;
import dev.zenith.storage.image.ImageManifest;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.wal.Lsn;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A rebuild writes the WAL from the redo point of the anchor it picked (by where anchors stand) while the start's
 * plan is made; when the plan then refuses that anchor, the WAL is written again from the image's redo point and the
 * start takes the full path. Here the anchor a branch's start picks has lost its transaction status files (the plan's
 * check of its files refuses it): the branch still starts, replays from the image, dumps equal to the primary at the
 * snapshot, and pg_amcheck finds nothing. Had the WAL from the anchor stayed, PostgreSQL would have found no WAL at
 * the image's redo point.
 */
@Tag("pg")
@Tag("slow")
class AnchoredStartFallbackTest {
    private static final Pattern REBUILT = Pattern.compile(
            "rebuilt (\\S+/b) from (.*?) \\(.*?\\) plus WAL (\\S+)\\.\\.(\\S+) \\((\\d+) bytes to replay\\)");

    @Test
    void aPlanThatRefusesThePickedAnchorStartsFromTheImageWithItsWal() throws Exception {
        try (DaemonFixture d = new DaemonFixture()) {
            d.startProcess(); // its own JVM: it logs to ZENITH_HOME/zenith.log, where rebuilds are told
            int port = d.createPg("main").getInteger("port");
            TimelineId tl = TimelineId.parse(d.pg("main").getString("timeline_id"));
            Path storage = Path.of(((JsonObject) d.ok(200, "GET", "/storages/local", null)).getString("path"));
            d.pgbench(port, "-i", "-s", "1", "-q");
            d.pgbench(port, "-n", "-c", "2", "-j", "2", "-t", "75");
            d.psql(port, "CHECKPOINT");
            Lsn redo = Lsn.parse(d.psql(port, "SELECT redo_lsn FROM pg_control_checkpoint()"));
            d.pgbench(port, "-n", "-c", "2", "-j", "2", "-t", "75");
            String expected = d.dump(port);
            Lsn snapshot = Lsn.parse(((JsonObject) d.ok(201, "PUT", "/snapshots",
                    new JsonObject().put("name", "main@s").encode())).getString("lsn"));
            d.awaitMaterialized(redo);
            d.action("main", "stop"); // nothing of main's runs while its anchor is broken
            d.killProcess();

            // The anchor a start at the snapshot picks loses its pg_xact files: picked still, refused by the plan.
            Lsn imageRedo;
            try (Store store = Store.open(storage)) {
                ImageManifest image = store.images().imageFor(tl, snapshot).orElseThrow();
                imageRedo = image.redoLsn();
                AnchoredStart.Candidate candidate = AnchoredStart.candidate(store, tl, image, snapshot);
                assertTrue(candidate.redo().isPresent() && candidate.redo().get().isAfter(imageRedo), candidate.why());
                StoredAnchor a = store.anchors().get(tl, candidate.anchor().get().checkpointLsn()).orElseThrow();
                Map<String, byte[]> files = new TreeMap<>(a.files());
                assertTrue(files.keySet().removeIf(p -> p.startsWith("pg_xact/")), files.keySet().toString());
                store.anchors().put(new StoredAnchor(a.timeline(), a.checkpointLsn(), a.redoLsn(), a.recordEnd(),
                        a.pgTimeline(), a.pgControl(), files));
                assertEquals(candidate.anchor(), AnchoredStart.candidate(store, tl, image, snapshot).anchor());
                AnchoredStart.Choice refused = AnchoredStart.plan(store, tl, image, candidate);
                assertFalse(refused.plan().isPresent());
                assertTrue(refused.why().contains("cannot be used"), refused.why());
            }

            d.startProcess();
            int b = d.branch("b", "main@s");
            String log = d.log();
            assertTrue(log.contains("from the image at") && log.contains("cannot be used"), log);
            Matcher rebuilt = REBUILT.matcher(log);
            assertTrue(rebuilt.find(), log);
            assertTrue(rebuilt.group(2).startsWith("image "), rebuilt.group());
            assertEquals(imageRedo, Lsn.parse(rebuilt.group(3)), rebuilt.group());
            Path pgdata = Path.of(d.pg("b").getString("pgdata"));
            assertFalse(Files.exists(ComputeDirectories.walStaging(pgdata)), "the rebuild left its WAL staging directory");
            assertEquals(expected, d.dump(b));
            d.amcheck(b, "--all", "--install-missing");
        }
    }
}
