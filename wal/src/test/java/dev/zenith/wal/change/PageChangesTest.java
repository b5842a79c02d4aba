package dev.zenith.wal.change;

import dev.zenith.wal.ForkNumber;
import dev.zenith.wal.record.BlockReference;
import dev.zenith.wal.record.DecodedRecord;
import dev.zenith.wal.record.ResourceManager;
import dev.zenith.wal.rmgr.HeapVisibility;
import dev.zenith.wal.rmgr.RecordDescriber;
import dev.zenith.wal.rmgr.VisibilityMap;
import dev.zenith.wal.rmgr.VisibilityMapClear;
import dev.zenith.wal.testing.Decoding;
import dev.zenith.wal.testing.GeneratedWal;
import dev.zenith.wal.testing.WaldumpOutput;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What each record does to pages, decoded from a real PostgreSQL 15 run and held against
 * pg_waldump's own reading of the same records: heap flags, which map bits they clear, will-init,
 * applied and verification-only images, hint-only records.
 */
@Tag("pg")
class PageChangesTest {
    private static final Pattern FLAGS = Pattern.compile("flags 0x([0-9A-F]{2})");
    private static List<DecodedRecord> records;
    private static List<WaldumpOutput.Entry> oracle;

    @BeforeAll
    static void decodeOnce() throws Exception {
        GeneratedWal wal = GeneratedWal.get();
        records = Decoding.decode(wal.firstSegmentStart(), wal.stream(), 64 * 1024).records();
        oracle = WaldumpOutput.parse(wal.waldump());
        assertEquals(oracle.size(), records.size(), "record count");
    }

    @Test
    void heapFlagsAreTheOnesPgWaldumpPrints() {
        Map<String, Integer> checked = new TreeMap<>();
        for (int i = 0; i < records.size(); i++) {
            DecodedRecord r = records.get(i);
            int flags = HeapVisibility.flags(r);
            if (flags < 0) {
                continue;
            }
            WaldumpOutput.Entry e = oracle.get(i);
            Matcher m = FLAGS.matcher(e.desc());
            assertTrue(m.find(), "pg_waldump prints no flags for " + e.line());
            assertEquals(Integer.parseInt(m.group(1), 16), flags, e.line());
            checked.merge(RecordDescriber.identify(r).replace("+INIT", ""), 1, Integer::sum);
        }
        for (String kind : List.of("INSERT", "DELETE", "UPDATE", "HOT_UPDATE", "LOCK", "MULTI_INSERT")) {
            assertTrue(checked.getOrDefault(kind, 0) > 0, "no " + kind + " with flags in " + checked);
        }
    }

    @Test
    void mapClearsFollowTheFlagsAndNameTheHeapBlocksPage() {
        Map<String, Integer> clears = new TreeMap<>();
        for (DecodedRecord r : records) {
            List<VisibilityMapClear> cs = HeapVisibility.clears(r);
            List<PageChange> implied = PageChanges.of(r).stream().filter(c -> c.has(PageChange.MAP_BITS_CLEARED)).toList();
            if (r.rmid() != ResourceManager.SMGR) {
                assertEquals(cs.size(), implied.size(), r.toString());
            }
            String id = RecordDescriber.identify(r).replace("+INIT", "");
            int flags = HeapVisibility.flags(r);
            for (int k = 0; k < cs.size(); k++) {
                VisibilityMapClear c = cs.get(k);
                clears.merge(id + (c.bits() == VisibilityMap.ALL_FROZEN ? " frozen" : " visible"), 1, Integer::sum);
                assertEquals(ForkNumber.VISIBILITY_MAP, implied.get(k).rel().fork());
                assertEquals(c.rel(), implied.get(k).rel().node());
                assertEquals(c.heapBlock() / VisibilityMap.HEAPBLOCKS_PER_PAGE, implied.get(k).block());
                assertTrue(implied.get(k).stampsLsn() == false && implied.get(k).changedByRedo());
                // the heap page is one the record references
                assertTrue(r.blocks().stream().anyMatch(b -> b.rel().node().equals(c.rel())
                        && b.rel().fork() == ForkNumber.MAIN && b.blockNumber() == c.heapBlock()), r.toString());
                if (id.equals("LOCK")) {
                    assertEquals(VisibilityMap.ALL_FROZEN, c.bits(), "row locks clear only all-frozen");
                }
            }
            if (id.equals("UPDATE") && flags == 0x03 && r.blocks().size() == 2) {
                assertEquals(r.blocks().get(1).blockNumber(), cs.get(0).heapBlock(), "old page first: " + r);
                assertEquals(r.blocks().get(0).blockNumber(), cs.get(1).heapBlock(), "then the new page: " + r);
            }
        }
        for (String kind : List.of("INSERT visible", "UPDATE visible", "HOT_UPDATE visible", "DELETE visible",
                "LOCK frozen", "MULTI_INSERT visible")) {
            assertTrue(clears.getOrDefault(kind, 0) > 0, "no " + kind + " clear in " + clears);
        }
    }

    @Test
    void willInitImagesAndHintOnlyMatchPgWaldump() {
        int hintOnly = 0;
        int checkImages = 0;
        int images = 0;
        int inits = 0;
        for (int i = 0; i < records.size(); i++) {
            DecodedRecord r = records.get(i);
            WaldumpOutput.Entry e = oracle.get(i);
            List<PageChange> changes = PageChanges.of(r);
            for (int k = 0; k < r.blocks().size(); k++) {
                BlockReference b = r.blocks().get(k);
                PageChange c = changes.get(k);
                String line = e.blockLines().get(k);
                assertEquals(b.rel(), c.rel());
                assertEquals(b.blockNumber(), c.block());
                assertEquals(line.contains("(FPW)"), c.has(PageChange.IMAGE), line);
                assertEquals(line.contains("(FPW for WAL verification)"), c.has(PageChange.CHECK_IMAGE), line);
                assertEquals(e.desc().startsWith("FPI_FOR_HINT") && !line.contains("(FPW"), c.has(PageChange.HINT_ONLY),
                        line);
                hintOnly += c.has(PageChange.HINT_ONLY) ? 1 : 0;
                checkImages += c.has(PageChange.CHECK_IMAGE) ? 1 : 0;
                images += c.has(PageChange.IMAGE) ? 1 : 0;
                inits += c.has(PageChange.WILL_INIT) ? 1 : 0;
            }
            // heap records say "+INIT" when they rebuild their first page: that page is will-init
            if ((r.rmid() == ResourceManager.HEAP || r.rmid() == ResourceManager.HEAP2) && !r.blocks().isEmpty()) {
                boolean init = e.desc().split(" ")[0].endsWith("+INIT");
                assertEquals(init, changes.get(0).has(PageChange.WILL_INIT), e.line());
            }
        }
        assertTrue(hintOnly > 0 && checkImages > 0 && images > 1000 && inits > 100,
                "hint-only " + hintOnly + ", verification images " + checkImages + ", images " + images + ", will-init " + inits);
    }

    @Test
    void truncatingAMapInsideAPageClearsItsTail() {
        // visibilitymap.c: HEAPBLOCKS_PER_PAGE = (8192 - 24) * 4
        assertEquals(32672, VisibilityMap.HEAPBLOCKS_PER_PAGE);
        assertEquals(0, VisibilityMap.blocksAfterTruncate(0));
        assertEquals(1, VisibilityMap.blocksAfterTruncate(1));
        assertEquals(1, VisibilityMap.blocksAfterTruncate(32672));
        assertEquals(2, VisibilityMap.blocksAfterTruncate(32673));
        VisibilityMapClear c = new VisibilityMapClear(new dev.zenith.wal.RelFileNode(1663, 5, 1), 32672 + 4 * 10 + 3,
                VisibilityMap.VALID_BITS);
        assertEquals(1, c.mapBlock());
        assertEquals(24 + 10, c.pageByte());
        assertEquals(0xC0, c.pageMask());
        boolean sawTruncate = false;
        for (DecodedRecord r : records) {
            if (r.rmid() == ResourceManager.SMGR && RecordDescriber.identify(r).equals("TRUNCATE")) {
                sawTruncate = true;
                long mapPages = PageChanges.of(r).stream().filter(p -> p.has(PageChange.MAP_BITS_CLEARED)).count();
                assertTrue(mapPages <= 1, r.toString());
            }
        }
        assertTrue(sawTruncate);
    }
}
