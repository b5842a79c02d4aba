package dev.zenith.server.redo;

import dev.zenith.server.anchor.Anchor;
import dev.zenith.server.anchor.AnchorCapture;
import dev.zenith.storage.image.DataDirectoryLayout;
import dev.zenith.storage.wal.BlockRef;
import dev.zenith.testkit.PgCluster;
import dev.zenith.wal.ForkNumber;
import dev.zenith.wal.record.BlockReference;
import dev.zenith.wal.record.DecodedRecord;
import dev.zenith.wal.record.ResourceManager;
import dev.zenith.wal.rmgr.RecordDescriber;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The dense oracle: a compute with wal_consistency_checking = all puts into every record an image
 * of each page it changes, as the page is on the primary right after the change. For records
 * sampled across pgbench, CREATE INDEX, VACUUM (FREEZE), updates and deletes, a sparse redo run at
 * the record's end gives each of those pages equal to its image once both are masked as
 * PostgreSQL's own consistency check masks them (heap and B-tree pages, the kinds {@link BufMask}
 * knows).
 */
@Tag("pg")
class ConsistencyImagesTest {
    private static final Set<Integer> MASKED_RMGRS = Set.of(ResourceManager.HEAP, ResourceManager.HEAP2,
            ResourceManager.BTREE);
    private static final int SAMPLES = 36;

    @Test
    void replayedPagesEqualThePrimarysImagesAfterEachRecord() throws Exception {
        try (PgCluster c = PgCluster.initdb()) {
            c.configure(Map.of("full_page_writes", "off", "autovacuum", "off", "wal_keep_size", "2GB",
                    "max_wal_size", "2GB"));
            c.start();
            c.pgbench("-i", "-s", "1", "-q");
            c.stop();
            Path image = c.scratch("image");
            ReferenceDirectory.copyTree(c.dataDir(), image);
            Anchor anchor = AnchorCapture.ofStoppedDirectory(image);
            c.configure(Map.of("wal_consistency_checking", "all"));
            c.start();
            c.pgbench("-n", "-c", "2", "-j", "1", "-t", "150");
            c.psql("CREATE INDEX accounts_bid ON pgbench_accounts (bid, abalance)");
            c.psql("VACUUM (FREEZE) pgbench_accounts");
            c.psql("UPDATE pgbench_accounts SET abalance = -abalance WHERE aid % 500 = 0");
            c.psql("DELETE FROM pgbench_history WHERE mtime < now() - interval '1 second' AND aid % 3 = 0");
            c.pgbench("-n", "-c", "2", "-j", "1", "-t", "100");
            c.stop();

            List<DecodedRecord> records = WalFiles.records(c.walDir(), anchor.pgTimeline(), anchor.redoLsn());
            List<DecodedRecord> checked = records.stream().filter(r -> MASKED_RMGRS.contains(r.rmid())
                    && checkImages(r).size() > 0).toList();
            assertTrue(checked.size() > 1000, checked.size() + " records with verification images");
            DataDirectoryLayout.Scan scan = DataDirectoryLayout.scan(image);
            Map<String, byte[]> files = new HashMap<>();
            for (String f : scan.files()) {
                files.put(f, Files.readAllBytes(image.resolve(f)));
            }
            ScratchBase base = new ScratchBase(new TreeSet<>(scan.directories()), files);
            SparseRedo redo = new SparseRedo(c.installation(), ScratchArea.open(c.scratch("redo"), c.installation()),
                    RedoSettings.defaults());
            Map<String, Integer> kinds = new TreeMap<>();
            int pages = 0;
            try (DirectoryPages start = new DirectoryPages(image)) {
                for (int k = 0; k < SAMPLES; k++) {
                    DecodedRecord r = checked.get((int) ((long) k * (checked.size() - 1) / (SAMPLES - 1)));
                    Map<BlockRef, BlockReference> images = new HashMap<>();
                    for (BlockReference b : checkImages(r)) {
                        images.put(new BlockRef(b.rel(), (int) b.blockNumber()), b);
                    }
                    List<String> differences = new ArrayList<>();
                    redo.run(new RedoRequest(anchor, r.endLsn(), new TreeSet<>(images.keySet()), start, Map.of(), base,
                            WalSource.segmentDirectory(c.walDir())), (block, page) -> {
                                byte[] primary = images.get(block).restorePage();
                                long n = Integer.toUnsignedLong(block.block());
                                if (page == null || !java.util.Arrays.equals(BufMask.mask(primary, ForkNumber.MAIN, n),
                                        BufMask.mask(page, ForkNumber.MAIN, n))) {
                                    differences.add(block.rel().path() + " block " + n);
                                }
                            });
                    assertEquals(List.of(), differences, "after " + r);
                    kinds.merge(r.rmgrName() + " " + RecordDescriber.identify(r), 1, Integer::sum);
                    pages += images.size();
                }
            }
            System.out.println("dense oracle: " + pages + " pages after " + SAMPLES + " records equal the primary's"
                    + " verification images after masking: " + kinds);
            assertTrue(kinds.size() >= 4, "record kinds sampled: " + kinds);
        }
    }

    /** The main-fork pages a record carries verification images of (map pages are compared exactly elsewhere). */
    private static List<BlockReference> checkImages(DecodedRecord r) {
        return r.blocks().stream().filter(b -> b.hasImage() && !b.applyImage() && b.rel().fork() == ForkNumber.MAIN)
                .toList();
    }
}
