package dev.zenith.server.redo;

import dev.zenith.storage.Store;
import dev.zenith.storage.page.IndexedPageSource;
import dev.zenith.storage.page.PageLayout;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.testkit.PgCluster;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.RelTag;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.util.ArrayDeque;
import java.util.Queue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A page-service question beyond the page index's watermark (a GetPage outside an image's window, a fork's size)
 * has the index catch up with the WAL: LMDB writes, which the asking thread (a page I/O thread serving other
 * connections) must not do. With a real store from a compute that ran pgbench, the page source's executor is
 * held back: the questions return unanswered futures and the index has not moved; once the executor runs what
 * was queued, the index reaches the LSN and the answers come (a page no newer than the LSN, the fork's size).
 */
@Tag("pg")
class IndexCatchUpOffTheCallerTest {
    @Test
    void theIndexCatchesUpOnTheSourcesExecutorNotOnTheAskingThread() throws Exception {
        try (RecordedCompute rc = RecordedCompute.start(StoreRedoTest.COMPUTE, c -> c.pgbench("-i", "-s", "1", "-q"))) {
            PgCluster c = rc.cluster();
            RelTag rel = StoreRedoTest.mainForkOf(c, "pgbench_accounts");
            c.pgbench("-n", "-c", "2", "-j", "2", "-t", "300"); // counted: seconds at high load may commit nothing
            Lsn asked = rc.mark("pgbench");
            c.pgbench("-n", "-c", "2", "-j", "2", "-t", "100"); // the LSN is history: no image's window holds it
            rc.finish();
            try (Store store = Store.open(c.scratch("store").resolve("store"))) {
                TimelineId tl = StoreRedoTest.load(rc, store);
                Lsn before = store.index().watermark(tl).orElse(Lsn.INVALID);
                assertTrue(before.isBefore(asked), "the index is behind the LSN asked: " + before);

                Queue<Runnable> held = new ArrayDeque<>();
                Executor executor = held::add;
                IndexedPageSource source = new IndexedPageSource(store.index(),
                        new RedoPageSource(StoreRedoTest.redo(store, c, "redo"), executor), executor);
                CompletableFuture<byte[]> page = source.pageLater(tl, rel, 0, asked);
                CompletableFuture<Void> sizes = source.sizesReady(tl, asked);
                assertFalse(page.isDone(), "the page was answered on the asking thread");
                assertFalse(sizes.isDone(), "sizes were made ready on the asking thread");
                assertEquals(before, store.index().watermark(tl).orElse(Lsn.INVALID), "the asking thread wrote the index");

                for (Runnable r = held.poll(); r != null; r = held.poll()) {
                    r.run(); // the catch-ups, then whatever they lead to (a redo run)
                }
                assertTrue(sizes.isDone() && page.isDone(), "answered once the executor ran");
                assertFalse(store.index().watermark(tl).orElseThrow().isBefore(asked), "the executor caught the index up");
                assertTrue(source.nblocks(tl, rel, asked) > 0, "pgbench_accounts has blocks at " + asked);
                long pdLsn = PageLayout.pageLsn(page.join()).value();
                assertTrue(pdLsn > 0 && pdLsn <= ((asked.value() + 7) & ~7L), "block 0 at " + asked + " has pd_lsn " + Lsn.of(pdLsn));
            }
        }
    }
}
