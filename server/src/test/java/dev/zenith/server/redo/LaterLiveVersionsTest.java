package dev.zenith.server.redo;

import dev.zenith.storage.Store;
import dev.zenith.storage.index.IndexCatchUps;
import dev.zenith.storage.page.PageLayout;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.testkit.PgCluster;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.RelTag;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.CompletableFuture;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A latest read whose block a follower holds at a later change than the read's own target (the follower replayed
 * past it) is answered with that version when it is the block's last change at the newest stored record end, the
 * point the read may move to, instead of a redo run; a version in between (the block changed again since), or one
 * beyond what the read accepts, is not. A real store from a compute that ran pgbench three times (branches block 0
 * changes in every transaction); the live pages are the block as reference directories have it, standing in for a
 * follower's files. A latest read past the page index's watermark is answered without catching the index up.
 */
@Tag("pg")
class LaterLiveVersionsTest {
    @Test
    void aLatestReadTakesALaterVersionOnlyWhenItIsTheBlocksLastChangeWhereTheReadMayMove() throws Exception {
        try (RecordedCompute rc = RecordedCompute.start(StoreRedoTest.COMPUTE, c -> c.pgbench("-i", "-s", "1", "-q"))) {
            PgCluster c = rc.cluster();
            Lsn[] marks = new Lsn[3];
            for (int i = 0; i < marks.length; i++) {
                // counted, over 1 MiB of WAL each: the store is loaded a MiB per append and the index catches up by
                // appends, so a short run (seconds at high load) ended inside the append holding marks[1]
                c.pgbench("-n", "-c", "2", "-j", "2", "-t", "1500");
                marks[i] = rc.mark("pgbench " + i);
            }
            RelTag branches = StoreRedoTest.mainForkOf(c, "pgbench_branches");
            rc.finish();
            Lsn end = rc.marks().get("end");
            byte[] between = referencePage(rc, c, marks[1], "reference-between", branches);
            byte[] newest = referencePage(rc, c, end, "reference-end", branches);
            Lsn betweenKey = PageLayout.pageLsn(between);
            Lsn newestKey = PageLayout.pageLsn(newest);
            assertTrue(newestKey.isAfter(betweenKey), "pgbench changed branches block 0 after " + marks[1]);
            try (Store store = Store.open(c.scratch("store").resolve("store"))) {
                TimelineId tl = StoreRedoTest.load(rc, store);
                store.index().indexer().batchBytes(8192);
                store.index().indexer().catchUp(tl, marks[1]);
                Lsn watermark = store.index().watermark(tl).orElseThrow();
                assertTrue(watermark.isBefore(end), "the page index stops short of the end (" + watermark + ")");
                Queue<Runnable> runs = new ArrayDeque<>();
                List<LivePages.LaterChanges> asked = new ArrayList<>();
                // a follower whose file holds the newest version: answered when it is the one asked for, or the read's
                // source takes it as a later one
                LivePages live = (s, t, block, change, later) -> {
                    asked.add(later);
                    boolean answers = IntervalChanges.versionKey(change).equals(newestKey) || later.lastChangeKeyed(newestKey) != null;
                    return CompletableFuture.completedFuture(answers ? newest : null);
                };
                RedoPageSource source = new RedoPageSource(StoreRedoTest.redo(store, c, "redo"), runs::add, live,
                        new IndexCatchUps(store.index().indexer(), Runnable::run));

                // at the end, past the index's watermark: no catch-up (the decoded WAL tells the block's last change)
                CompletableFuture<byte[]> pastTheIndex = source.pageLater(tl, branches, 0, end, Lsn.of(-1L));
                assertTrue(pastTheIndex.isDone() && runs.isEmpty(), "answered by the live version, no redo run");
                assertArrayEquals(newest, pastTheIndex.join());
                assertEquals(watermark, store.index().watermark(tl).orElseThrow(), "the read did not catch the index up");
                asked.clear();

                CompletableFuture<byte[]> latest = source.pageLater(tl, branches, 0, marks[0], Lsn.of(-1L));
                assertEquals(1, asked.size(), "the latest read asked the live pages");
                assertTrue(latest.isDone() && runs.isEmpty(), "answered by the later version, no redo run");
                assertArrayEquals(newest, latest.join());
                Lsn change = asked.get(0).lastChangeKeyed(newestKey);
                assertNotNull(change);
                assertEquals(newestKey, IntervalChanges.versionKey(change));
                assertNull(asked.get(0).lastChangeKeyed(betweenKey),
                        "a version the block left behind after " + marks[1] + " is not the block at any point the read may move to");

                CompletableFuture<byte[]> capped = source.pageLater(tl, branches, 0, marks[0], marks[1]);
                assertEquals(2, asked.size());
                assertNull(asked.get(1).lastChangeKeyed(newestKey), "beyond " + marks[1] + ", which the read accepts at most");
                assertEquals(betweenKey, IntervalChanges.versionKey(asked.get(1).lastChangeKeyed(betweenKey)),
                        "the block's version at the read's cap");
                assertEquals(1, runs.size(), "the capped read runs redo");
                for (Runnable r = runs.poll(); r != null; r = runs.poll()) {
                    r.run();
                }
                assertArrayEquals(between, capped.join(), "the capped read's run answers it at its cap");

                source.pageLater(tl, branches, 0, marks[0], marks[0]);
                assertEquals(2, asked.size(), "a read at a fixed LSN never asks the live pages");
            }
        }
    }

    private static byte[] referencePage(RecordedCompute rc, PgCluster c, Lsn at, String name, RelTag rel) throws Exception {
        try (ForkFiles files = new ForkFiles(ReferenceDirectory.build(c.installation(), rc.image(),
                WalSource.segmentDirectory(c.walDir()), at, c.scratch(name)))) {
            return files.read(rel, 0);
        }
    }
}
