package dev.zenith.server.redo;

import dev.zenith.storage.Store;
import dev.zenith.storage.index.IndexCatchUps;
import dev.zenith.storage.page.PageWrite;
import dev.zenith.storage.page.Watermarks;
import dev.zenith.storage.wal.BlockRef;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.testkit.PgCluster;
import dev.zenith.wal.ForkNumber;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.RelTag;
import dev.zenith.wal.segment.WalGeometry;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.HashSet;
import java.util.Queue;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * While a compute writes, reads at the latest LSN each have a target of their own. A read whose block has not
 * changed since an earlier read's target joins the redo run already gathered for that target instead of queueing
 * a run of its own; its page is still the block as it is at its own LSN. A real store from a compute that ran
 * pgbench (the tellers' and branches' first blocks change in every transaction, so neither has an exact stored
 * version), then wrote only another table; the run executor is held back so that both reads are in flight.
 */
@Tag("pg")
class RedoRunSharingTest {
    @Test
    void aReadOfABlockUnchangedSinceAnEarlierTargetJoinsThatTargetsRun() throws Exception {
        try (RecordedCompute rc = RecordedCompute.start(StoreRedoTest.COMPUTE, c -> c.pgbench("-i", "-s", "1", "-q"))) {
            PgCluster c = rc.cluster();
            RelTag tellersRel = StoreRedoTest.mainForkOf(c, "pgbench_tellers");
            RelTag branchesRel = StoreRedoTest.mainForkOf(c, "pgbench_branches");
            transactions(c, 150);
            Lsn first = rc.mark("pgbench");
            c.psql("CREATE TABLE elsewhere (x int); INSERT INTO elsewhere SELECT generate_series(1, 10000)");
            Lsn second = rc.mark("another table written");
            rc.finish();
            try (Store store = Store.open(c.scratch("store").resolve("store"))) {
                Held h = Held.of(rc, store, second);
                TimelineId tl = h.timeline();
                RedoPageSource source = h.source();
                Queue<Runnable> held = h.runs();

                CompletableFuture<byte[]> atFirst = source.pageLater(tl, tellersRel, 0, first);
                CompletableFuture<byte[]> atSecond = source.pageLater(tl, branchesRel, 0, second);
                assertFalse(atFirst.isDone() || atSecond.isDone(), "both reads need a redo run");
                assertEquals(1, held.size(), "one run answers both reads (each read queued a run of its own before)");
                h.runAll();

                assertSame("tellers block 0 at " + first, reference(rc, c, first, "reference-first"), tellersRel, atFirst.join());
                assertSame("branches block 0 at " + second, reference(rc, c, second, "reference-second"), branchesRel,
                        atSecond.join());
            }
        }
    }

    /**
     * Reads that may be answered later than their own LSN (the latest asked for, or up to a cap) join one floating run
     * whose target is chosen when it starts: two reads at two LSNs, the second's block changed after the first's
     * LSN, one run (each queued a run of its own before), both pages as they are at the later point, which the
     * first read accepted as its cap; the earlier read's page is not the block at its own LSN (pgbench changed it).
     */
    @Test
    void readsThatMayBeAnsweredLaterShareOneRunAtTheLatestPointTheyAccept() throws Exception {
        try (RecordedCompute rc = RecordedCompute.start(StoreRedoTest.COMPUTE, c -> c.pgbench("-i", "-s", "1", "-q"))) {
            PgCluster c = rc.cluster();
            Lsn[] marks = new Lsn[2];
            for (int i = 0; i < marks.length; i++) {
                transactions(c, 100);
                marks[i] = rc.mark("pgbench " + i);
            }
            Lsn first = marks[0];
            Lsn second = marks[1];
            RelTag tellersRel = StoreRedoTest.mainForkOf(c, "pgbench_tellers");
            RelTag branchesRel = StoreRedoTest.mainForkOf(c, "pgbench_branches");
            rc.finish();
            try (Store store = Store.open(c.scratch("store").resolve("store"))) {
                Held h = Held.of(rc, store, second);
                CompletableFuture<byte[]> tellers = h.source().pageLater(h.timeline(), tellersRel, 0, first, second);
                CompletableFuture<byte[]> branches = h.source().pageLater(h.timeline(), branchesRel, 0, second, Lsn.of(-1L));
                assertFalse(tellers.isDone() || branches.isDone(), "both reads need a redo run");
                assertEquals(1, h.runs().size(), "one floating run answers both reads");
                h.runAll();

                Path atSecond = reference(rc, c, second, "reference-second");
                assertSame("tellers block 0 asked at " + first + " up to " + second, atSecond, tellersRel, tellers.join());
                assertSame("branches block 0 at " + second, atSecond, branchesRel, branches.join());
                try (ForkFiles atFirst = new ForkFiles(reference(rc, c, first, "reference-first"))) {
                    assertFalse(Arrays.equals(atFirst.read(tellersRel, 0), tellers.join()),
                            "the run's target is the later point: tellers block 0 changed after " + first);
                }
            }
        }
    }

    /**
     * A run's pages are answered before they are stored: the answer does not wait for LMDB's writer, which the WAL
     * receiver, the page indexer and materialization steps take too (held here by a step's open transaction, the
     * way a long one would). Once the writer is free the run stores them, and a read there is an LMDB read.
     */
    @Test
    void aRunAnswersBeforeItStoresItsPages() throws Exception {
        try (RecordedCompute rc = RecordedCompute.start(StoreRedoTest.COMPUTE, c -> c.pgbench("-i", "-s", "1", "-q"))) {
            PgCluster c = rc.cluster();
            transactions(c, 100);
            Lsn at = rc.mark("pgbench");
            RelTag branchesRel = StoreRedoTest.mainForkOf(c, "pgbench_branches");
            rc.finish();
            try (Store store = Store.open(c.scratch("store").resolve("store"))) {
                Held h = Held.of(rc, store, at);
                CompletableFuture<byte[]> read = h.source().pageLater(h.timeline(), branchesRel, 0, at);
                assertFalse(read.isDone(), "the read needs a redo run");
                CountDownLatch holding = new CountDownLatch(1);
                CountDownLatch release = new CountDownLatch(1);
                ExecutorService threads = Executors.newFixedThreadPool(2);
                try {
                    Future<?> writer = threads.submit(() -> {
                        // the first page opens LMDB's write transaction; closed uncommitted, it stores nothing
                        try (Watermarks.StepWriter w = store.watermarks().stepWriter(h.timeline())) {
                            w.put(new PageWrite(h.timeline(), branchesRel, 1_000_000, at, new byte[WalGeometry.BLCKSZ]));
                            holding.countDown();
                            release.await();
                        }
                        return null;
                    });
                    assertTrue(holding.await(1, TimeUnit.MINUTES), "the writer was not taken");
                    Future<?> run = threads.submit(h::runAll);
                    byte[] page = read.get(2, TimeUnit.MINUTES); // before the change: not before the writer is free
                    assertFalse(run.isDone(), "the run stores its pages only once the writer is free");
                    release.countDown();
                    writer.get(1, TimeUnit.MINUTES);
                    run.get(2, TimeUnit.MINUTES);
                    assertSame("branches block 0 at " + at, reference(rc, c, at, "reference"), branchesRel, page);
                    assertTrue(h.source().pageLater(h.timeline(), branchesRel, 0, at).isDone(),
                            "the run's pages are stored: a read at " + at + " is an LMDB read");
                    assertTrue(h.runs().isEmpty(), "no second run");
                } finally {
                    release.countDown();
                    threads.shutdownNow();
                }
            }
        }
    }

    /**
     * A floating run after another from the same base makes only the blocks changed since the earlier one's target
     * (each run made every block changed since the base: thousands after a minute of pgbench, seeded, read back and
     * stored again at every run), and a block the earlier run made, unchanged since, is an LMDB read at the later
     * point, as the reference has it there.
     */
    @Test
    void aFloatingRunAfterAnotherMakesOnlyTheBlocksChangedSinceIt() throws Exception {
        try (RecordedCompute rc = RecordedCompute.start(StoreRedoTest.COMPUTE, c -> c.pgbench("-i", "-s", "1", "-q"))) {
            PgCluster c = rc.cluster();
            transactions(c, 100);
            Lsn first = rc.mark("pgbench 0");
            transactions(c, 100);
            Lsn second = rc.mark("pgbench 1");
            RelTag tellersRel = StoreRedoTest.mainForkOf(c, "pgbench_tellers");
            RelTag branchesRel = StoreRedoTest.mainForkOf(c, "pgbench_branches");
            rc.finish();
            try (Store store = Store.open(c.scratch("store").resolve("store"))) {
                Held h = Held.of(rc, store, second);
                TimelineId tl = h.timeline();
                Lsn cap = Lsn.of(first.value() + 1);
                LatestReadCounts.Counts afterFirst = firstFloatingRun(h, tellersRel, first, cap);

                IntervalChanges changes = changesFromTheBaseOf(h, store, second);
                assertEquals(1, afterFirst.runs());
                assertEquals(changes.versionKeys(changes.lastRecordEndAtOrBefore(cap)).size(), afterFirst.runBlocks(),
                        "the first run made every block changed since the base");
                theNextRunMakesOnlyTheBlocksChangedSinceTheFirst(rc, h, store, branchesRel, cap, second, afterFirst);
                assertTrue(h.runs().isEmpty(), "no third run");
            }
        }
    }

    /** A latest read of block 0 of {@code rel} at {@code first} (answerable up to {@code cap}): one floating run, its counts. */
    private static LatestReadCounts.Counts firstFloatingRun(Held h, RelTag rel, Lsn first, Lsn cap) {
        CompletableFuture<byte[]> early = h.source().pageLater(h.timeline(), rel, 0, first, cap);
        h.runAll();
        early.join();
        return h.source().latestReadCounts();
    }

    /**
     * After a new base materialized (a step at a checkpoint the first floating run's target is past), the next
     * floating run starts from that base but still makes only the blocks changed since the previous run's target (it
     * remade every block changed since the new base: 7,094 in a bench run under pgbench), and a block the earlier run
     * made, unchanged since, is an LMDB read at the later point, as the reference has it there.
     */
    @Test
    void theFirstFloatingRunFromANewBaseMakesOnlyTheBlocksChangedSinceThePreviousRun() throws Exception {
        try (RecordedCompute rc = pgbenchScaleOne()) {
            PgCluster c = rc.cluster();
            RelTag branchesRel = StoreRedoTest.mainForkOf(c, "pgbench_branches");
            transactions(c, 300);
            c.psql("CHECKPOINT");
            transactions(c, 300);
            Lsn first = rc.mark("pgbench after the checkpoint");
            transactions(c, 100);
            Lsn second = rc.mark("pgbench 2");
            rc.finish();
            try (Store store = Store.open(c.scratch("store").resolve("store"))) {
                Held h = Held.of(rc, store, second);
                TimelineId tl = h.timeline();
                Lsn imageRedo = h.redo().runStartFor(tl, second).orElseThrow().redoPoint();
                Lsn cap = Lsn.of(first.value() + 1);
                LatestReadCounts.Counts afterFirst = firstFloatingRun(h, branchesRel, first, cap);

                assertTrue(new Materializer(h.redo()).step(tl).isPresent(), "a step to the checkpoint's anchor");
                StoreRedo.Base newBase = h.redo().runStartFor(tl, second).orElseThrow();
                assertTrue(newBase.redoPoint().isAfter(imageRedo), "the step is the newest base: " + newBase);
                assertTrue(changesFromTheBaseOf(h, store, second).lastRecordEndAtOrBefore(cap).isAfter(newBase.redoPoint()),
                        "the first run's target is past the new base");
                theNextRunMakesOnlyTheBlocksChangedSinceTheFirst(rc, h, store, branchesRel, cap, second, afterFirst);
                assertTrue(h.runs().isEmpty(), "no third run");
            }
        }
    }

    /**
     * While a follower replays the timeline (or starts), the first floating run makes only the blocks asked: the
     * follower answers the blocks changed before it from its files (that run made every block changed since the base:
     * 12,210 blocks in 4-8 s at load 20 in a bench run, every connection waiting). Here live pages that are coming but
     * answer nothing: the run makes the one block asked, as the reference has it; a block changed before that run's
     * target and not asked then needs a run of its own, which makes it alone (nothing changed since the first).
     */
    @Test
    void whileAFollowerComesTheFirstFloatingRunMakesOnlyTheBlocksAsked() throws Exception {
        try (RecordedCompute rc = pgbenchScaleOne()) {
            PgCluster c = rc.cluster();
            transactions(c, 100);
            Lsn at = rc.mark("pgbench");
            RelTag branchesRel = StoreRedoTest.mainForkOf(c, "pgbench_branches");
            RelTag tellersRel = StoreRedoTest.mainForkOf(c, "pgbench_tellers");
            rc.finish();
            LivePages coming = new LivePages() {
                @Override
                public CompletableFuture<byte[]> page(Store store, TimelineId timeline, BlockRef block, Lsn change,
                                                      LaterChanges later) {
                    return CompletableFuture.completedFuture(null);
                }

                @Override
                public boolean coming(Store store, TimelineId timeline) {
                    return true;
                }
            };
            try (Store store = Store.open(c.scratch("store").resolve("store"))) {
                Held h = Held.of(rc, store, at, coming);
                Lsn cap = Lsn.of(at.value() + 1);
                CompletableFuture<byte[]> branches = h.source().pageLater(h.timeline(), branchesRel, 0, at, cap);
                assertFalse(branches.isDone(), "branches block 0 changed since the base: a run");
                h.runAll();
                assertEquals(1, h.source().latestReadCounts().runBlocks(), "the run made the block asked only");
                Path reference = reference(rc, c, at, "reference");
                assertSame("branches block 0 at " + at, reference, branchesRel, branches.join());

                CompletableFuture<byte[]> tellers = h.source().pageLater(h.timeline(), tellersRel, 0, at, cap);
                assertFalse(tellers.isDone(), "tellers block 0 changed too and was not made: a run of its own");
                h.runAll();
                assertEquals(2, h.source().latestReadCounts().runs());
                assertEquals(2, h.source().latestReadCounts().runBlocks(), "the second run made the block asked only");
                assertSame("tellers block 0 at " + at, reference, tellersRel, tellers.join());
            }
        }
    }

    /** A recorded compute holding a pgbench database of scale 1. */
    private static RecordedCompute pgbenchScaleOne() throws Exception {
        return RecordedCompute.start(StoreRedoTest.COMPUTE, c -> c.pgbench("-i", "-s", "1", "-q"));
    }

    /** pgbench, 2 clients: counted transactions, not seconds (on a loaded machine a few seconds may change nothing). */
    private static void transactions(PgCluster c, int perClient) throws Exception {
        c.pgbench("-n", "-c", "2", "-j", "2", "-t", Integer.toString(perClient));
    }

    /** The WAL from the base a run to {@code at} starts from, decoded up to a floating run's cap there (just after it). */
    private static IntervalChanges changesFromTheBaseOf(Held h, Store store, Lsn at) {
        IntervalChanges changes = new IntervalChanges(h.timeline(), h.redo().runStartFor(h.timeline(), at).orElseThrow().redoPoint());
        changes.extendTo(store.wal(), Lsn.min(Lsn.of(at.value() + 1), store.wal().lastRecordEnd(h.timeline()).orElseThrow()));
        return changes;
    }

    /**
     * After a first floating run capped at {@code cap}: a read of branches block 0 at {@code second} (capped just after
     * it) needs a second run, which makes only the blocks changed since the first's target and the one asked, fewer
     * than those changed since its base; then a block changed before the first's target only is an LMDB read, and both
     * pages are as the reference has them at {@code second}.
     */
    private static void theNextRunMakesOnlyTheBlocksChangedSinceTheFirst(RecordedCompute rc, Held h, Store store,
            RelTag branchesRel, Lsn cap, Lsn second, LatestReadCounts.Counts afterFirst) throws Exception {
        TimelineId tl = h.timeline();
        IntervalChanges changes = changesFromTheBaseOf(h, store, second);
        Lsn secondCap = Lsn.of(second.value() + 1); // a floating run's target: at most this, at most the stored WAL
        Lsn firstTarget = changes.lastRecordEndAtOrBefore(cap);
        Lsn secondTarget = changes.lastRecordEndAtOrBefore(secondCap);
        Set<BlockRef> sinceFirst = changes.changedAfter(firstTarget, secondTarget);
        Set<BlockRef> sinceBase = changes.versionKeys(secondTarget).keySet();

        CompletableFuture<byte[]> late = h.source().pageLater(tl, branchesRel, 0, second, secondCap);
        assertFalse(late.isDone(), "branches block 0 changed after " + firstTarget + ": a run");
        h.runAll();
        LatestReadCounts.Counts afterSecond = h.source().latestReadCounts();
        assertEquals(afterFirst.runs() + 1, afterSecond.runs());
        Set<BlockRef> wanted = new HashSet<>(sinceFirst);
        wanted.add(new BlockRef(branchesRel, 0));
        assertEquals(wanted.size(), afterSecond.runBlocks() - afterFirst.runBlocks(),
                "the second run made the blocks changed since the first's target (and the one asked)");
        assertTrue(wanted.size() < sinceBase.size(), "pgbench changed blocks between the base and " + firstTarget);

        Path atSecond = reference(rc, rc.cluster(), second, "reference-second");
        assertSame("branches block 0 at " + second, atSecond, branchesRel, 0, late.join());
        BlockRef madeEarlier = sinceBase.stream().filter(b -> !sinceFirst.contains(b)
                && b.rel().fork() == ForkNumber.MAIN).findFirst().orElseThrow();
        CompletableFuture<byte[]> unchanged = h.source().pageLater(tl, madeEarlier.rel(), madeEarlier.block(),
                second, secondCap);
        assertTrue(unchanged.isDone(), madeEarlier + " (made by the first run, unchanged since) is an LMDB read");
        assertSame(madeEarlier + " at " + second, atSecond, madeEarlier.rel(), madeEarlier.block(), unchanged.join());
    }

    /** A page source over the recorded store, indexed up to {@code indexedTo}, whose runs are held until {@link #runAll}. */
    private record Held(TimelineId timeline, StoreRedo redo, RedoPageSource source, Queue<Runnable> runs) {
        static Held of(RecordedCompute rc, Store store, Lsn indexedTo) throws Exception {
            return of(rc, store, indexedTo, LivePages.NONE);
        }

        /** As above, latest reads asking {@code live} first. */
        static Held of(RecordedCompute rc, Store store, Lsn indexedTo, LivePages live) throws Exception {
            TimelineId tl = StoreRedoTest.load(rc, store);
            store.index().indexer().catchUp(tl, indexedTo);
            Queue<Runnable> held = new ArrayDeque<>();
            StoreRedo redo = StoreRedoTest.redo(store, rc.cluster(), "redo");
            return new Held(tl, redo, new RedoPageSource(redo, held::add, live,
                    new IndexCatchUps(store.index().indexer(), held::add)), held);
        }

        void runAll() {
            for (Runnable r = runs.poll(); r != null; r = runs.poll()) {
                r.run();
            }
        }
    }

    private static Path reference(RecordedCompute rc, PgCluster c, Lsn at, String name) throws Exception {
        return ReferenceDirectory.build(c.installation(), rc.image(), WalSource.segmentDirectory(c.walDir()), at,
                c.scratch(name));
    }

    /** Byte-equal to the reference's block 0, or equal where PostgreSQL's own redo checks compare (hint bits masked). */
    private static void assertSame(String what, Path reference, RelTag rel, byte[] got) throws Exception {
        assertSame(what, reference, rel, 0, got);
    }

    /** As above, for block {@code block}. */
    private static void assertSame(String what, Path reference, RelTag rel, int block, byte[] got) throws Exception {
        try (ForkFiles ref = new ForkFiles(reference)) {
            byte[] want = ref.read(rel, Integer.toUnsignedLong(block));
            assertTrue(Arrays.equals(want, got) || Arrays.equals(BufMask.mask(want, rel.fork(), block),
                    BufMask.mask(got, rel.fork(), block)),
                    what + " differs from the reference (pd_lsn " + dev.zenith.storage.page.PageLayout.pageLsn(want)
                            + " there, " + dev.zenith.storage.page.PageLayout.pageLsn(got) + " read)");
        }
    }
}
