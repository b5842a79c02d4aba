package dev.zenith.server.redo;

import dev.zenith.storage.Store;
import dev.zenith.storage.gc.GcStats;
import dev.zenith.storage.index.IndexNotReadyException;
import dev.zenith.storage.index.PageIndex;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.testkit.PgCluster;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.RelTag;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * GC on pages (docs/page-versions.md, "GC on pages"): a compute runs pgbench with checkpoints and no
 * clean stop, so its only image is the first one and, under the image rule, every byte of WAL since it
 * stays. With versions materialized, a collection that keeps two snapshots and a window of 0 s frees the
 * WAL before the oldest kept base and thins superseded versions; afterwards GetPage at each snapshot and
 * at the end still equals every main, VM and init block of a reference directory built by full crash
 * recovery (from the original image and all the WAL, outside the store). The page index's entries below
 * the horizon are compacted and it answers alike at every kept point.
 */
@Tag("pg")
@Tag("slow")
class PageGcTest {
    @Test
    void collectionOnPagesFreesWalAndVersionsAndKeepsEveryRetainedPointExact() throws Exception {
        try (RecordedCompute rc = RecordedCompute.start(StoreRedoTest.COMPUTE, c -> c.pgbench("-i", "-s", "2", "-q"))) {
            PgCluster c = rc.cluster();
            Map<String, Lsn> snapshots = new LinkedHashMap<>();
            for (int round = 1; round <= 6; round++) {
                c.pgbench("-n", "-c", "4", "-j", "2", "-t", "100"); // counted: at any load it changes pages
                if (round == 1) {
                    // the kept bases in later segments than the image's: WAL is freed by whole segments
                    c.psql("SELECT pg_switch_wal()");
                }
                if (round == 3 || round == 5) {
                    snapshots.put("snapshot after round " + round, rc.mark("round " + round)); // between checkpoints
                }
                c.psql("CHECKPOINT");
            }
            c.pgbench("-n", "-c", "4", "-j", "2", "-t", "100");
            Lsn end = rc.mark("end of the run");
            rc.finish();

            try (Store store = Store.open(c.scratch("store").resolve("store"))) {
                TimelineId tl = StoreRedoTest.load(rc, store);
                StoreRedo redo = StoreRedoTest.redo(store, c, "redo");
                Materializer materializer = new Materializer(redo);
                int steps = 0;
                for (Optional<Materializer.StepResult> s = materializer.step(tl); s.isPresent(); s = materializer.step(tl)) {
                    steps++;
                }
                assertTrue(steps >= 5, "materialization steps: " + steps);
                // GetPage at every retained point once before the collection: its runs store versions too
                RedoPageSource before = new RedoPageSource(redo, java.util.concurrent.ForkJoinPool.commonPool());
                PageComparison warmUp = new PageComparison();
                Map<String, Path> references = new LinkedHashMap<>();
                Map<String, Lsn> kept = new LinkedHashMap<>(snapshots);
                kept.put("end", end);
                int n = 0;
                for (Map.Entry<String, Lsn> p : kept.entrySet()) {
                    Path reference = ReferenceDirectory.build(c.installation(), rc.image(),
                            WalSource.segmentDirectory(c.walDir()), p.getValue(), c.scratch("reference-" + n++));
                    references.put(p.getKey(), reference);
                    StoreRedoTest.compare(p.getKey() + " before GC", reference, before, tl, p.getValue(), warmUp);
                }
                assertEquals(List.of(), warmUp.problems);

                Map<TimelineId, List<Lsn>> retained = Map.of(tl, List.copyOf(snapshots.values()));
                Map<TimelineId, Lsn> window = Map.of(tl, end); // --pitr 0s
                GcStats byImages = store.garbage().ifCollected(retained, window);
                assertEquals(0, byImages.walBytesFreed(), "the image rule keeps all WAL since the only image: " + byImages);

                store.garbage().useMaterializedBases(true);
                GcStats withoutFirst = store.garbage().ifCollected(Map.of(tl, List.of(snapshots.values().stream()
                        .skip(1).findFirst().orElseThrow())), window);
                Map<String, Object> indexBefore = indexAnswers(store, tl, kept.values());
                Map<String, Long> entriesBefore = store.entriesOf(tl);
                long walBefore = storedWal(store, tl);
                long versionsBefore = store.stats().entries("pages");
                GcStats stats = store.garbage().collect(retained, window);
                System.out.println("collected: " + stats + "; without the first snapshot it would free " + withoutFirst);
                long walAfter = storedWal(store, tl);
                long versionsAfter = store.stats().entries("pages");
                System.out.println("WAL " + walBefore + " -> " + walAfter + " bytes, versions " + versionsBefore + " -> "
                        + versionsAfter);
                assertTrue(stats.walBytesFreed() > 0 && walAfter < walBefore, "WAL freed: " + stats);
                assertEquals(walBefore - walAfter, stats.walBytesFreed());
                assertTrue(stats.pageVersionsFreed() > 0 && versionsAfter < versionsBefore, "versions thinned: " + stats);
                assertEquals(versionsBefore - versionsAfter, stats.pageVersionsFreed());
                // what the first snapshot alone keeps (its retained size) is no longer 0
                assertTrue(withoutFirst.bytesFreed() > stats.bytesFreed(), withoutFirst + " vs " + stats);

                indexBelowTheHorizonIsCompacted(store, tl, kept.values(), indexBefore, entriesBefore);

                // a fresh redo (no cached bases or decoded intervals) reads only what the collection kept
                StoreRedo after = StoreRedoTest.redo(store, c, "redo-after");
                RedoPageSource pages = new RedoPageSource(after, java.util.concurrent.ForkJoinPool.commonPool());
                PageComparison comparison = new PageComparison();
                for (Map.Entry<String, Lsn> p : kept.entrySet()) {
                    StoreRedoTest.compare(p.getKey() + " after GC", references.get(p.getKey()), pages, tl, p.getValue(),
                            comparison);
                }
                System.out.println("GetPage after GC against full crash recovery: " + comparison);
                assertEquals(List.of(), comparison.problems);
                assertTrue(comparison.byteEqual > 5_000, comparison.toString());
                // and background materialization goes on from the kept watermark
                List<String> problems = new ArrayList<>();
                try {
                    new Materializer(after).step(tl);
                } catch (RuntimeException e) {
                    problems.add(e.toString());
                }
                assertEquals(List.of(), problems);
            }
        }
    }

    /**
     * The page index's answers at the kept points: every tracked fork's size, and per block of those forks
     * its last change at or before the point and whether it changed since the oldest kept point.
     */
    private static Map<String, Object> indexAnswers(Store store, TimelineId tl, Collection<Lsn> points) {
        PageIndex index = store.index();
        Lsn oldest = points.stream().min(Comparator.naturalOrder()).orElseThrow();
        Map<String, Object> out = new TreeMap<>();
        for (Lsn p : points) {
            Map<RelTag, Long> forks = index.forks(tl, p);
            out.put(p + " forks", new TreeMap<>(forks.entrySet().stream().collect(Collectors.toMap(
                    e -> e.getKey().path(), Map.Entry::getValue))));
            forks.forEach((rel, blocks) -> {
                for (int b = 0; b < blocks; b++) {
                    out.put(p + " " + rel.path() + " " + b, index.lastChange(tl, rel, b, p).map(Lsn::toString).orElse("-")
                            + (index.changedIn(tl, rel, b, oldest, p) ? " changed" : ""));
                }
            });
        }
        return out;
    }

    /**
     * Below the collection's horizon the index keeps each block's, fork's and database's newest entry only
     * (and no hint-only ones): fewer entries, the same answers at every kept point, and no answers below it.
     */
    private static void indexBelowTheHorizonIsCompacted(Store store, TimelineId tl, Collection<Lsn> points,
                                                        Map<String, Object> before, Map<String, Long> entriesBefore) {
        Map<String, Long> after = store.entriesOf(tl);
        System.out.println("index entries before " + entriesBefore + ", after " + after);
        assertTrue(after.get("block_changes") < entriesBefore.get("block_changes"), after + " vs " + entriesBefore);
        assertTrue(after.get("rel_sizes") <= entriesBefore.get("rel_sizes"), after + " vs " + entriesBefore);
        assertEquals(before, indexAnswers(store, tl, points));
        Lsn walStart = store.wal().start(tl).orElseThrow();
        RelTag anyFork = store.index().forks(tl, points.iterator().next()).keySet().iterator().next();
        assertThrows(IndexNotReadyException.class, () -> store.index().lastChange(tl, anyFork, 0, walStart.plus(-8)));
    }

    private static long storedWal(Store store, TimelineId tl) {
        return store.wal().end(tl).orElseThrow().minus(store.wal().start(tl).orElseThrow());
    }
}
