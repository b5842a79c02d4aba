package dev.zenith.server.redo;

import dev.zenith.storage.Store;
import dev.zenith.storage.page.PageVersion;
import dev.zenith.storage.page.Watermarks;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.testkit.PgCluster;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.RelTag;
import dev.zenith.wal.segment.WalGeometry;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Background materialization steps over a CREATE DATABASE by FILE_COPY (which changes every block of
 * the new database without a block reference): the wanted set comes from the page index, whose COPIED
 * entries name those blocks, so the watermark goes past the copy, and the versions it stored at the
 * last step are every main, VM and init block of a reference directory (full crash recovery) there,
 * the copied database's included.
 */
@Tag("pg")
@Tag("slow")
class MaterializeFileCopyTest {
    private static final Map<String, String> COMPUTE = Map.of("full_page_writes", "off", "wal_keep_size", "8GB",
            "max_wal_size", "8GB", "autovacuum", "off");

    @Test
    void materializationGoesPastCreateDatabaseByFileCopyAndItsPagesAreExact() throws Exception {
        try (RecordedCompute rc = RecordedCompute.start(COMPUTE, c -> c.pgbench("-i", "-s", "1", "-q"))) {
            PgCluster c = rc.cluster();
            c.pgbench("-n", "-c", "2", "-t", "200"); // counted: seconds at high load may commit nothing
            c.psql("CHECKPOINT");
            int byCopy = OracleSteps.createDatabases(rc);
            Lsn copied = rc.marks().get("CREATE DATABASE FILE_COPY");
            c.pgbench("-n", "-c", "2", "-t", "200");
            c.psql("CHECKPOINT");
            c.pgbench("-n", "-c", "2", "-t", "100");
            c.psql("CHECKPOINT");
            rc.finish();

            try (Store store = Store.open(c.scratch("store").resolve("store"))) {
                TimelineId tl = StoreRedoTest.load(rc, store);
                StoreRedo redo = StoreRedoTest.redo(store, c, "redo");
                Materializer materializer = new Materializer(redo);
                for (Optional<Materializer.StepResult> s = materializer.step(tl); s.isPresent(); s = materializer.step(tl)) {
                    System.out.println("materialized " + s.get());
                }
                Watermarks.Step last = store.watermarks().watermark(tl).orElseThrow();
                assertTrue(last.target().isAfter(copied), "the watermark " + last + " stays before the copy at " + copied);

                Path reference = ReferenceDirectory.build(c.installation(), rc.image(),
                        WalSource.segmentDirectory(c.walDir()), last.target(), c.scratch("reference"));
                PageComparison comparison = new PageComparison();
                long copiedBlocks = 0;
                Lsn at = IntervalChanges.versionKey(last.target());
                try (ForkFiles ref = new ForkFiles(reference)) {
                    for (Map.Entry<RelTag, Long> fork : PageComparison.comparedForks(reference).entrySet()) {
                        comparison.forks++;
                        for (long b = 0; b < fork.getValue(); b++) {
                            byte[] want = ref.read(fork.getKey(), b);
                            byte[] got = store.pages().get(tl, fork.getKey(), (int) b, at).map(PageVersion::page)
                                    .orElseGet(() -> new byte[WalGeometry.BLCKSZ]);
                            if (Arrays.equals(want, got)) {
                                comparison.byteEqual++;
                                copiedBlocks += fork.getKey().node().dbOid() == byCopy ? 1 : 0;
                            } else if (Arrays.equals(BufMask.mask(want, fork.getKey().fork(), b),
                                    BufMask.mask(got, fork.getKey().fork(), b))) {
                                comparison.maskedEqual++;
                            } else {
                                comparison.problem(fork.getKey().path() + " block " + b + " differs from the reference");
                            }
                        }
                    }
                }
                System.out.println("stored versions at the watermark against full crash recovery: " + comparison
                        + "; blocks of the copied database: " + copiedBlocks);
                assertEquals(List.of(), comparison.problems);
                assertTrue(copiedBlocks > 50, "blocks of the copied database compared: " + copiedBlocks);
            }
        }
    }
}
