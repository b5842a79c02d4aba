package dev.zenith.server.redo;

import dev.zenith.server.anchor.Anchor;
import dev.zenith.storage.Store;
import dev.zenith.storage.anchor.StoredAnchor;
import dev.zenith.storage.image.RelationFilter;
import dev.zenith.storage.page.PageStore;
import dev.zenith.storage.page.Watermarks;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.storage.wal.WalAppend;
import dev.zenith.storage.wal.WalIndex;
import dev.zenith.storage.wal.WalIndexer;
import dev.zenith.testkit.PgCluster;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.RelTag;
import dev.zenith.wal.decoder.DecodeResult;
import dev.zenith.wal.decoder.WalStreamDecoder;
import dev.zenith.wal.record.DecodedRecord;
import dev.zenith.wal.segment.WalGeometry;
import dev.zenith.wal.segment.WalSegments;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.Semaphore;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Background materialization and GetPage@LSN against a real store: a compute runs pgbench with
 * checkpoints and no clean stop; the store gets the image, the WAL as streamed and the anchors as
 * captured. Materialization steps from the image through each anchor; then GetPage at LSNs after
 * several checkpoints (on steps, between them, past the last) gives every main, visibility-map and
 * init-fork block of a reference directory built by full crash recovery to that LSN, twice (the second time
 * by what the first read proved).
 */
@Tag("pg")
@Tag("slow")
class StoreRedoTest {
    static final Map<String, String> COMPUTE = Map.of("full_page_writes", "off", "wal_keep_size", "8GB",
            "max_wal_size", "8GB", "autovacuum_naptime", "5s");

    @Test
    void getPageAfterMaterializationEqualsFullCrashRecovery() throws Exception {
        try (RecordedCompute rc = RecordedCompute.start(COMPUTE, c -> c.pgbench("-i", "-s", "2", "-q"))) {
            PgCluster c = rc.cluster();
            for (int round = 1; round <= 3; round++) {
                c.pgbench("-n", "-c", "4", "-j", "2", "-t", "500"); // counted: seconds at high load may commit nothing
                rc.mark("pgbench round " + round);
                c.psql("CHECKPOINT");
            }
            c.psql("VACUUM pgbench_accounts");
            c.pgbench("-n", "-c", "4", "-j", "2", "-t", "400");
            rc.mark("after the last checkpoint");
            rc.finish();

            Path home = c.scratch("store");
            try (Store store = Store.open(home.resolve("store"))) {
                TimelineId tl = load(rc, store);
                ScratchArea area = ScratchArea.open(c.scratch("redo"), c.installation());
                StoreRedo redo = new StoreRedo(store, new SparseRedo(c.installation(), area, RedoSettings.defaults()),
                        new Semaphore(1));
                Materializer materializer = new Materializer(redo);
                List<Materializer.StepResult> steps = new ArrayList<>();
                for (Optional<Materializer.StepResult> s = materializer.step(tl); s.isPresent(); s = materializer.step(tl)) {
                    System.out.println("materialized " + s.get());
                    steps.add(s.get());
                }
                assertTrue(steps.size() >= 1, "steps: " + steps);
                Watermarks.Step last = store.watermarks().watermark(tl).orElseThrow();
                assertEquals(rc.anchors().get(rc.anchors().size() - 1).anchor().redoLsn(), last.redoPoint());

                TreeMap<Lsn, String> targets = new TreeMap<>();
                rc.marks().forEach((name, lsn) -> targets.put(lsn, name));
                for (Watermarks.Step s : store.watermarks().steps(tl)) {
                    targets.put(s.target(), "materialized step at " + s.redoPoint());
                }
                RedoPageSource pages = new RedoPageSource(redo, java.util.concurrent.ForkJoinPool.commonPool());
                PageComparison comparison = new PageComparison();
                int n = 0;
                for (Map.Entry<Lsn, String> t : targets.entrySet()) {
                    if (!t.getKey().isAfter(rc.imageAnchor().checkpointLsn())) {
                        continue;
                    }
                    String where = t.getKey() + " (" + t.getValue() + ")";
                    Path reference = ReferenceDirectory.build(c.installation(), rc.image(),
                            WalSource.segmentDirectory(c.walDir()), t.getKey(), c.scratch("reference-" + n++));
                    long started = System.nanoTime();
                    compare(where, reference, pages, tl, t.getKey(), comparison);
                    System.out.println(where + ": GetPage of every block in " + (System.nanoTime() - started) / 1_000_000 + " ms");
                    // again: each block now read by the key of the version the first read proved exact there
                    compare(where + ", read again", reference, pages, tl, t.getKey(), comparison);
                }
                System.out.println("GetPage against full crash recovery: " + comparison);
                assertEquals(List.of(), comparison.problems);
                assertTrue(comparison.byteEqual > 5_000, comparison.toString());
            }
        }
    }

    /** The main fork of a table of the cluster's postgres database. */
    static RelTag mainForkOf(PgCluster c, String table) throws IOException {
        int db = Integer.parseInt(c.psql("SELECT oid FROM pg_database WHERE datname = 'postgres'").trim());
        int node = Integer.parseInt(c.psql("SELECT pg_relation_filenode('" + table + "')").trim());
        return RelTag.of(1663, db, node, dev.zenith.wal.ForkNumber.MAIN);
    }

    /** Redo runs against {@code store} in a fresh scratch area of the cluster's ({@code name}), one at a time. */
    static StoreRedo redo(Store store, PgCluster c, String name) throws IOException {
        return new StoreRedo(store, new SparseRedo(c.installation(), ScratchArea.open(c.scratch(name), c.installation()),
                RedoSettings.defaults()), new Semaphore(1));
    }

    /** Every main, VM and init block of the reference, asked through GetPage at the same LSN. */
    static void compare(String where, Path reference, dev.zenith.storage.page.PageSource pages, TimelineId tl, Lsn lsn,
                        PageComparison comparison) throws IOException {
        try (ForkFiles ref = new ForkFiles(reference)) {
            for (Map.Entry<RelTag, Long> fork : PageComparison.comparedForks(reference).entrySet()) {
                comparison.forks++;
                for (long b = 0; b < fork.getValue(); b++) {
                    byte[] want = ref.read(fork.getKey(), b);
                    byte[] got = pages.page(tl, fork.getKey(), (int) b, lsn);
                    if (Arrays.equals(want, got)) {
                        comparison.byteEqual++;
                    } else if (Arrays.equals(BufMask.mask(want, fork.getKey().fork(), b),
                            BufMask.mask(got, fork.getKey().fork(), b))) {
                        comparison.maskedEqual++;
                        if (comparison.masked.size() < 20) {
                            comparison.masked.add(where + ": " + fork.getKey().path() + " block " + b);
                        }
                    } else {
                        comparison.problem(where + ": " + fork.getKey().path() + " block " + b + " differs (reference"
                                + " pd_lsn " + dev.zenith.storage.page.PageLayout.pageLsn(want) + ", GetPage's "
                                + dev.zenith.storage.page.PageLayout.pageLsn(got) + ")");
                    }
                }
            }
        }
    }

    /** The image, the WAL from its checkpoint's segment as a receiver stores it, and the anchors captured. */
    static TimelineId load(RecordedCompute rc, Store store) throws IOException {
        Anchor image = rc.imageAnchor();
        TimelineId tl = store.timelines().create(null, Lsn.INVALID, image.pgTimeline()).id();
        Lsn end = rc.records().get(rc.records().size() - 1).endLsn();
        Lsn segmentStart = Lsn.of(WalSegments.segmentStart(WalSegments.segmentNumber(image.checkpointLsn().value())));
        // the first append ends at a record end, as the receiver's do; the rest follow through an indexer
        byte[] first = walBytes(rc.cluster(), image.pgTimeline(), segmentStart, image.checkpointLsn().plus(4096));
        WalStreamDecoder decoder = WalStreamDecoder.startingAt(segmentStart);
        decoder.feed(first, 0, first.length);
        WalIndex index = new WalIndex();
        for (DecodeResult r = decoder.poll(); r instanceof DecodedRecord rec; r = decoder.poll()) {
            index.add(rec);
            if (!rec.startLsn().isBefore(image.checkpointLsn())) {
                break;
            }
        }
        Lsn firstEnd = index.lastRecordEnd();
        store.wal().append(List.of(index.drainInto(tl, segmentStart, Arrays.copyOf(first, (int) firstEnd.minus(segmentStart)))));
        WalIndexer indexer = WalIndexer.resume(store.wal(), tl);
        for (Lsn at = indexer.end(); at.isBefore(end); ) {
            Lsn to = Lsn.min(end, at.plus(1 << 20));
            indexer.feed(walBytes(rc.cluster(), image.pgTimeline(), at, to));
            WalAppend a = indexer.drain();
            if (a != null) {
                store.wal().append(List.of(a));
            }
            at = to;
        }
        store.images().importDataDirectory(tl, rc.image(), image.checkpointLsn(), image.redoLsn(), RelationFilter.all());
        for (RecordedCompute.CapturedAnchor a : rc.anchors()) {
            store.anchors().put(new StoredAnchor(tl, a.anchor().checkpointLsn(), a.anchor().redoLsn(), a.recordEnd(),
                    a.anchor().pgTimeline(), a.anchor().pgControl(), a.anchor().files()));
        }
        return tl;
    }

    private static byte[] walBytes(PgCluster c, int pgTimeline, Lsn from, Lsn to) throws IOException {
        byte[] out = new byte[(int) to.minus(from)];
        int done = 0;
        while (done < out.length) {
            long at = from.value() + done;
            int offset = WalSegments.segmentOffset(at);
            int n = Math.min(out.length - done, WalGeometry.WAL_SEGMENT_SIZE - offset);
            Path file = c.walDir().resolve(WalSegments.fileName(pgTimeline, WalSegments.segmentNumber(at)));
            try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "r")) {
                f.seek(offset);
                f.readFully(out, done, n);
            }
            done += n;
        }
        return out;
    }
}
