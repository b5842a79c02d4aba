package dev.zenith.server.redo;

import dev.zenith.server.testing.DaemonFixture;
import dev.zenith.storage.Store;
import dev.zenith.storage.image.DataDirectoryLayout;
import dev.zenith.storage.page.IndexedPageSource;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.testkit.PgCluster;
import dev.zenith.wal.ForkNumber;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.RelFileNode;
import dev.zenith.wal.RelTag;
import dev.zenith.wal.segment.WalGeometry;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Free-space map lengths and database sizes at the LSNs a writing primary reaches, asked one after the other as a
 * page-service client asks at the latest LSN: each equals the reference (PostgreSQL's crash recovery of the image
 * to that LSN), and a redo run is made only where a map may have changed length. pgbench on a primary without
 * autovacuum: the first stretch creates maps (pgbench_history's fills its first pages), the later ones only change
 * blocks whose maps' leaf pages already exist and create, truncate and drop nothing, so their lengths need no run.
 * Then pgbench_accounts grows past what its map's first leaf page covers, and pgbench_history is dropped: each needs
 * a run (a proof that took the older lengths there would differ from the reference).
 */
@Tag("pg")
class FreeSpaceMapsWithoutRunsTest {
    private static final String PASSWORD = "fsm-secret";
    private static final Map<String, String> COMPUTE = Map.of("full_page_writes", "off", "wal_keep_size", "8GB",
            "max_wal_size", "8GB", "autovacuum", "off");

    @Test
    void lengthsAtLaterLsnsNeedNoRunWhereNoMapCanHaveGrownAndEqualTheReference() throws Exception {
        try (RecordedCompute rc = RecordedCompute.start(COMPUTE, c -> c.pgbench("-i", "-s", "1", "-q"))) {
            PgCluster c = rc.cluster();
            int db = Integer.parseInt(c.psql("SELECT oid FROM pg_database WHERE datname = 'postgres'").trim());
            List<Lsn> marks = new ArrayList<>();
            c.pgbench("-n", "-c", "2", "-j", "2", "-t", "300");
            marks.add(rc.mark("pgbench 1"));
            for (int round = 2; round <= 4; round++) {
                c.pgbench("-n", "-c", "2", "-j", "2", "-t", "100");
                marks.add(rc.mark("pgbench " + round));
            }
            // past the first leaf page's 4069 heap blocks: the map grows by a page; then a relation dropped
            c.psql("INSERT INTO pgbench_accounts SELECT g, 1, 0, '' FROM generate_series(100001, 400000) g");
            marks.add(rc.mark("pgbench_accounts past 4069 blocks"));
            c.psql("DROP TABLE pgbench_history");
            marks.add(rc.mark("pgbench_history dropped"));
            rc.finish();
            try (Store store = Store.open(c.scratch("store").resolve("store"))) {
                TimelineId tl = StoreRedoTest.load(rc, store);
                store.index().indexer().catchUp(tl, marks.get(marks.size() - 1));
                RedoPageSource redo = new RedoPageSource(StoreRedoTest.redo(store, c, "redo"), Runnable::run);
                IndexedPageSource source = new IndexedPageSource(store.index(), redo);
                Map<String, String> problems = new LinkedHashMap<>();
                List<Long> runs = new ArrayList<>();
                for (int i = 0; i < marks.size(); i++) {
                    Lsn at = marks.get(i);
                    long before = redo.freeSpaceMapRuns();
                    Map<RelTag, Long> answered = new TreeMap<>(RelTag.ORDER);
                    answered.putAll(source.freeSpaceMaps(tl, at).orElseThrow());
                    long dbSize = source.dbSize(tl, db, at);
                    runs.add(redo.freeSpaceMapRuns() - before);

                    Path ref = ReferenceDirectory.build(c.installation(), rc.image(), WalSource.segmentDirectory(c.walDir()),
                            at, c.scratch("reference-" + i));
                    Map<RelTag, Long> expected = new TreeMap<>(RelTag.ORDER);
                    long dbBytes = 0;
                    for (Map.Entry<RelTag, List<Path>> e : DataDirectoryLayout.scan(ref).forks().entrySet()) {
                        long bytes = 0;
                        for (Path segment : e.getValue()) {
                            bytes += Files.size(segment);
                        }
                        RelFileNode n = e.getKey().node();
                        if (n.spcOid() == RelFileNode.DEFAULT_TABLESPACE && n.dbOid() == db) {
                            dbBytes += bytes;
                        }
                        if (e.getKey().fork() == ForkNumber.FSM) {
                            expected.put(e.getKey(), bytes / WalGeometry.BLCKSZ);
                            long nblocks = Integer.toUnsignedLong(source.nblocks(tl, e.getKey(), at));
                            if (nblocks != bytes / WalGeometry.BLCKSZ) {
                                problems.put(at + " Nblocks " + e.getKey().path(), bytes / WalGeometry.BLCKSZ + "/" + nblocks);
                            }
                        }
                    }
                    if (!expected.equals(answered)) {
                        problems.put(at + " free-space maps", "reference " + expected + ", answered " + answered);
                    }
                    if (dbBytes != dbSize) {
                        problems.put(at + " DbSize", "reference " + dbBytes + ", answered " + dbSize);
                    }
                }
                System.out.println("free-space map runs per LSN " + marks + ": " + runs);
                assertEquals(Map.of(), problems);
                assertTrue(runs.get(0) <= 1, "one run at most for the first LSN: " + runs);
                assertEquals(List.of(0L, 0L, 0L), runs.subList(1, 4),
                        "no run where no map can have changed length (one per LSN before): " + runs);
                assertEquals(List.of(1L, 1L), runs.subList(4, 6), "a run where a map grew, and where one was dropped: " + runs);
            }
        }
    }

    /**
     * The same through a daemon's page service: at the end LSN of a running primary's timeline after each stretch of
     * pgbench (what a latest-LSN request is answered at), FSM Exists/Nblocks, every other fork's size and block and
     * DbSize equal crash recovery to that LSN.
     */
    @Test
    void latestLsnsOfARunningPrimaryAnswerAsCrashRecoveryThroughThePageService() throws Exception {
        DaemonFixture d = new DaemonFixture();
        try {
            d.pgSettings.put("replication_password", PASSWORD);
            d.startInProcess();
            int port = d.createPg("main").getInteger("port");
            d.pgbench(port, "-i", "-s", "1", "-q");
            JsonObject storage = (JsonObject) d.ok(200, "GET", "/storages/local", null);
            TimelineId tl = TimelineId.parse(d.pg("main").getString("timeline_id"));
            List<PageServiceAnswers.Answers> answers = new ArrayList<>();
            for (int round = 1; round <= 3; round++) {
                d.pgbench(port, "-n", "-c", "2", "-j", "2", "-t", "75");
                Lsn end = endLsn(d, tl);
                PageServiceAnswers.awaitIndexed(d, tl, end);
                answers.add(PageServiceAnswers.ask(d, "main", PASSWORD, storage.getString("tenant_id"), tl, end));
            }
            d.inProcessShutdownKeepingHome();
            PageServiceAnswers.assertAnswersEqualCrashRecovery(d, Path.of(storage.getString("path")), tl, answers,
                    "latest", 3000);
        } finally {
            d.close();
        }
    }

    private static Lsn endLsn(DaemonFixture d, TimelineId tl) throws Exception {
        for (Object o : (JsonArray) d.ok(200, "GET", "/storages/local/timelines", null)) {
            JsonObject t = (JsonObject) o;
            if (t.getString("timeline_id").equals(tl.toString())) {
                return Lsn.parse(t.getString("end_lsn"));
            }
        }
        throw new AssertionError("timeline " + tl + " is not listed");
    }
}
