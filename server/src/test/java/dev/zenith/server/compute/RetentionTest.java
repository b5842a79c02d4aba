package dev.zenith.server.compute;

import dev.zenith.server.history.HistoryTest;
import dev.zenith.server.testing.FreshDaemonTest;
import dev.zenith.storage.Store;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.testkit.PgCluster;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Retention: the PITR window, snapshots, branch points and every timeline's end keep history alive;
 * garbage collection frees the rest, and every kept point stays exactly readable.
 */
@Tag("pg")
class RetentionTest extends FreshDaemonTest {

    private JsonObject gc(String pitr) throws Exception {
        return (JsonObject) d.ok(200, "POST", "/storages/local/gc",
                pitr == null ? null : new JsonObject().put("pitr", pitr).encode());
    }

    @Test
    void gcFreesOnlyWhatNothingKeeps() throws Exception {
        int port = d.createPg("main").getInteger("port");
        d.psql(port, "CREATE EXTENSION amcheck");
        // well before image 1 (its own checkpoint LSN, the end of WAL just before the stop, has its data)
        String beforeFirstImage = d.psql(port, "SELECT pg_current_wal_lsn()");
        d.pgbench(port, "-i", "-s", "2", "-q");
        d.action("main", "stop");                              // image 1
        d.action("main", "start");
        d.pgbench(port, "-n", "-t", "300");
        d.ok(201, "PUT", "/snapshots", new JsonObject().put("name", "main@keep").encode());
        String kept = d.psql(port, HistoryTest.FINGERPRINT);
        d.action("main", "stop");                              // image 2
        d.action("main", "start");
        d.pgbench(port, "-n", "-t", "300");
        d.action("main", "stop");                              // image 3
        d.action("main", "start");
        String now = d.psql(port, HistoryTest.FINGERPRINT);

        JsonObject windowKeepsAll = gc(null);                  // the default 7-day window covers everything
        assertEquals(0L, windowKeepsAll.getLong("wal_bytes_freed"), windowKeepsAll.encode());
        assertEquals(0, windowKeepsAll.getInteger("images_freed"));
        assertEquals(0L, windowKeepsAll.getLong("page_versions_freed"));

        JsonObject freed = gc("0s");                           // only the snapshot and the end remain
        assertTrue(freed.getLong("wal_bytes_freed") > 0, freed.encode());
        assertTrue(freed.getInteger("images_freed") >= 1, freed.encode());
        assertTrue(freed.getLong("page_versions_freed") > 0, freed.encode());
        JsonObject again = gc("0s");
        assertEquals(0L, again.getLong("wal_bytes_freed"), "a second collection finds nothing: " + again.encode());
        assertEquals(0L, again.getLong("page_versions_freed"));

        // what was kept is exact
        int snap = ((JsonObject) d.ok(201, "PUT", "/pgs",
                new JsonObject().put("name", "atkeep").put("snapshot", "main@keep").encode())).getInteger("port");
        assertEquals(kept, d.psql(snap, HistoryTest.FINGERPRINT));
        d.amcheck(snap, "-d", "postgres");
        d.ok(200, "DELETE", "/pgs/atkeep", null);
        JsonObject stopped = d.action("main", "stop");
        PgCluster.deleteTree(Path.of(stopped.getString("pgdata")));
        d.action("main", "start");
        assertEquals(now, d.psql(port, HistoryTest.FINGERPRINT));

        // what was freed is refused clearly
        HttpResponse<String> gone = d.request("PUT", "/pgs",
                new JsonObject().put("name", "old").put("from", "main").put("lsn", beforeFirstImage).encode());
        assertEquals(400, gone.statusCode(), gone.body());
        assertTrue(gone.body().contains("retention horizon"), gone.body());
        assertEquals(400, d.request("POST", "/storages/local/gc", "{\"pitr\": \"soon\"}").statusCode());
    }

    @Test
    void aSnapshotReportsWhatOnlyItKeeps() throws Exception {
        d.ok(201, "PUT", "/storages", new JsonObject().put("name", "short").put("pitr", "0s")
                .put("path", d.home.resolve("short").toString()).encode());
        int port = ((JsonObject) d.ok(201, "PUT", "/pgs", new JsonObject().put("name", "s").put("storage_name", "short")
                .encode())).getInteger("port");
        d.pgbench(port, "-i", "-s", "1", "-q");
        d.action("s", "stop");
        d.action("s", "start");
        d.pgbench(port, "-n", "-t", "300");
        d.ok(201, "PUT", "/snapshots", new JsonObject().put("name", "s@keep").encode());
        d.action("s", "stop");
        d.action("s", "start");
        d.pgbench(port, "-n", "-t", "300");
        d.action("s", "stop");
        d.action("s", "start");

        JsonObject keep = (JsonObject) d.ok(200, "GET", "/snapshots/s@keep", null);
        long retains = keep.getLong("retains_bytes");
        assertTrue(retains > 0, "the snapshot alone keeps the history since the first image: " + keep.encode());
        assertEquals(retains, keep.getLong("retains_wal_bytes") + keep.getLong("retains_page_bytes"));
        d.ok(200, "DELETE", "/snapshots/s@keep", null);
        JsonObject freed = (JsonObject) d.ok(200, "POST", "/storages/short/gc", null);
        assertTrue(freed.getLong("wal_bytes_freed") + freed.getLong("page_bytes_freed") >= retains,
                "destroying it and collecting frees at least what it said it kept: " + freed.encode());
    }

    @Test
    void aDestroyedBranchNoLongerPinsItsParentsHistoryNorKeepsItsJournal() throws Exception {
        Path storage = d.home.resolve("branchy");
        d.ok(201, "PUT", "/storages", new JsonObject().put("name", "branchy").put("pitr", "0s")
                .put("path", storage.toString()).encode());
        int port = ((JsonObject) d.ok(201, "PUT", "/pgs", new JsonObject().put("name", "b").put("storage_name", "branchy")
                .encode())).getInteger("port");
        d.pgbench(port, "-i", "-s", "1", "-q");
        JsonObject branch = (JsonObject) d.ok(201, "PUT", "/pgs", new JsonObject().put("name", "gone").put("from", "b").encode());
        d.psql(branch.getInteger("port"), "CREATE TABLE on_the_branch AS SELECT 1 AS x");
        d.ok(200, "DELETE", "/pgs/gone", null);
        Path journal = storage.resolve("wal-journal").resolve(branch.getString("timeline_id"));
        try (var files = java.nio.file.Files.list(journal)) {
            assertEquals(List.of(), files.toList(), "a destroyed pg's journal files are let go of");
        }

        for (int i = 0; i < 2; i++) { // new images, so that the history before them is garbage
            d.pgbench(port, "-n", "-t", "300");
            d.action("b", "stop");
            d.action("b", "start");
        }
        JsonObject freed = (JsonObject) d.ok(200, "POST", "/storages/branchy/gc", null);
        assertTrue(freed.getLong("wal_bytes_freed") > 0, "the destroyed branch's point pins nothing: " + freed.encode());
        d.pgbench(port, "-n", "-t", "10"); // and what is kept still works
    }

    /**
     * A create/destroy loop of branches with writes (each with an image of its own) leaves nothing behind:
     * gc deletes each destroyed branch with its WAL, versions, images, index entries, journal and
     * documents, so the store's pages in use stop growing (LMDB reuses the freed ones). A destroyed
     * branch another pg stands on is kept until that one goes too.
     */
    @Test
    void gcDeletesDestroyedBranchesWithEverythingTheyHeld() throws Exception {
        Path storage = d.home.resolve("loopy");
        d.ok(201, "PUT", "/storages", new JsonObject().put("name", "loopy").put("pitr", "0s")
                .put("path", storage.toString()).encode());
        int port = ((JsonObject) d.ok(201, "PUT", "/pgs", new JsonObject().put("name", "main").put("storage_name", "loopy")
                .encode())).getInteger("port");
        d.pgbench(port, "-i", "-s", "1", "-q");
        List<TimelineId> destroyed = new ArrayList<>();
        List<Long> used = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            JsonObject b = (JsonObject) d.ok(201, "PUT", "/pgs", new JsonObject().put("name", "b" + i).put("from", "main").encode());
            destroyed.add(TimelineId.parse(b.getString("timeline_id")));
            d.pgbench(b.getInteger("port"), "-n", "-t", "500");
            d.action("b" + i, "stop");                          // an image of the branch's own
            d.action("b" + i, "start");
            d.pgbench(b.getInteger("port"), "-n", "-t", "100");
            d.ok(200, "DELETE", "/pgs/b" + i, null);
            JsonObject freed = collect("loopy");
            assertEquals(1, freed.getInteger("timelines_freed"), freed.encode());
            assertTrue(freed.getLong("wal_bytes_freed") > 0 && freed.getLong("page_versions_freed") > 0
                    && freed.getInteger("images_freed") > 0, freed.encode());
            JsonObject size = ((JsonObject) d.ok(200, "GET", "/storages/loopy", null)).getJsonObject("size");
            assertEquals(1L, size.getLong("timelines"), "main's timeline only: " + size.encode());
            used.add(size.getLong("used_bytes"));
        }
        // after the first loops settle, pages in use stay flat (main itself writes a little meanwhile)
        assertTrue(used.get(4) <= used.get(1) + (512 << 10), "pages in use per loop: " + used);

        // a destroyed branch a pg still stands on stays, and goes with that pg
        JsonObject mid = (JsonObject) d.ok(201, "PUT", "/pgs", new JsonObject().put("name", "mid").put("from", "main").encode());
        d.psql(mid.getInteger("port"), "CREATE TABLE on_mid AS SELECT 'kept' AS what");
        JsonObject leaf = (JsonObject) d.ok(201, "PUT", "/pgs", new JsonObject().put("name", "leaf").put("from", "mid").encode());
        d.ok(200, "DELETE", "/pgs/mid", null);
        assertEquals(0, collect("loopy").getInteger("timelines_freed"));
        assertEquals("kept", d.psql(leaf.getInteger("port"), "SELECT what FROM on_mid"));
        d.action("leaf", "stop");
        d.action("leaf", "start");                               // rebuilt: the image and WAL below it are there
        assertEquals("kept", d.psql(leaf.getInteger("port"), "SELECT what FROM on_mid"));
        d.ok(200, "DELETE", "/pgs/leaf", null);
        assertEquals(2, collect("loopy").getInteger("timelines_freed"));
        destroyed.add(TimelineId.parse(mid.getString("timeline_id")));
        destroyed.add(TimelineId.parse(leaf.getString("timeline_id")));

        d.inProcessShutdownKeepingHome();
        try (Store store = Store.open(storage)) {
            for (TimelineId t : destroyed) {
                assertTrue(store.entriesOf(t).values().stream().allMatch(n -> n == 0), t + ": " + store.entriesOf(t));
                assertFalse(Files.exists(storage.resolve("wal-journal").resolve(t.toString())), "journal of " + t);
                assertTrue(store.documents().list("").keySet().stream().noneMatch(k -> k.contains(t.toString())),
                        "documents of " + t + ": " + store.documents().list("").keySet());
            }
        }
        d.startInProcess();
        assertEquals("100000", d.psql(d.pg("main").getInteger("port"), "SELECT count(*) FROM pgbench_accounts"));
    }

    private JsonObject collect(String storage) throws Exception {
        return (JsonObject) d.ok(200, "POST", "/storages/" + storage + "/gc", null);
    }
}
