package dev.zenith.server.redo;

import dev.zenith.storage.Store;
import dev.zenith.storage.gc.GcStats;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.testkit.PgCluster;
import dev.zenith.wal.Lsn;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Semaphore;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * GC on pages (docs/page-versions.md, "GC on pages"): a compute runs pgbench with checkpoints and no
 * clean stop, so its only image is the first one and, under the image rule, every byte of WAL since it
 * stays. With versions materialized, a collection that keeps two snapshots and a window of 0 s frees the
 * WAL before the oldest kept base and thins superseded versions; afterwards GetPage at each snapshot and
 * at the end still equals every main, VM and init block of a reference directory built by full crash
 * recovery (from the original image and all the WAL, outside the store).
 */
@Tag("pg")
@Tag("slow")
class PageGcTest {
    private static final Map<String, String> COMPUTE = Map.of("full_page_writes", "off", "wal_keep_size", "8GB",
            "max_wal_size", "8GB", "autovacuum_naptime", "5s");

    @Test
    void collectionOnPagesFreesWalAndVersionsAndKeepsEveryRetainedPointExact() throws Exception {
        try (RecordedCompute rc = RecordedCompute.start(COMPUTE, c -> c.pgbench("-i", "-s", "2", "-q"))) {
            PgCluster c = rc.cluster();
            Map<String, Lsn> snapshots = new LinkedHashMap<>();
            for (int round = 1; round <= 6; round++) {
                c.pgbench("-n", "-c", "4", "-j", "2", "-T", "3");
                if (round == 3 || round == 5) {
                    snapshots.put("snapshot after round " + round, rc.mark("round " + round)); // between checkpoints
                }
                c.psql("CHECKPOINT");
            }
            c.pgbench("-n", "-c", "4", "-j", "2", "-T", "2");
            Lsn end = rc.mark("end of the run");
            rc.finish();

            try (Store store = Store.open(c.scratch("store").resolve("store"))) {
                TimelineId tl = StoreRedoTest.load(rc, store);
                StoreRedo redo = new StoreRedo(store, new SparseRedo(c.installation(),
                        ScratchArea.open(c.scratch("redo"), c.installation()), RedoSettings.defaults()), new Semaphore(1));
                Materializer materializer = new Materializer(redo);
                int steps = 0;
                for (Optional<Materializer.StepResult> s = materializer.step(tl); s.isPresent(); s = materializer.step(tl)) {
                    steps++;
                }
                assertTrue(steps >= 5, "materialization steps: " + steps);
                // GetPage at every retained point once before the collection: its runs store versions too
                RedoPageSource before = new RedoPageSource(redo);
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

                // a fresh redo (no cached bases or decoded intervals) reads only what the collection kept
                StoreRedo after = new StoreRedo(store, new SparseRedo(c.installation(),
                        ScratchArea.open(c.scratch("redo-after"), c.installation()), RedoSettings.defaults()),
                        new Semaphore(1));
                RedoPageSource pages = new RedoPageSource(after);
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

    private static long storedWal(Store store, TimelineId tl) {
        return store.wal().end(tl).orElseThrow().minus(store.wal().start(tl).orElseThrow());
    }
}
