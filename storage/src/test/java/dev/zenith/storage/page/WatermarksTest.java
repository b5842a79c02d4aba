package dev.zenith.storage.page;

import dev.zenith.storage.Store;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.wal.ForkNumber;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.RelFileNode;
import dev.zenith.wal.RelTag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A materialization step keeps the free-space map lengths its run left, and a step without them reads as not knowing;
 * under a cache bound a step of more pages than fit in it goes in parts, the step itself only with the last.
 */
class WatermarksTest {
    @TempDir
    Path tmp;

    @Test
    void aStepKeepsItsFreeSpaceMapLengths() {
        try (Store s = Store.open(tmp.resolve("store"))) {
            TimelineId tl = s.timelines().create(null, Lsn.INVALID, 1).id();
            s.watermarks().commit(tl, List.of(), new Watermarks.Step(Lsn.of(0x2000), Lsn.of(0x1F00)));
            assertNull(s.watermarks().watermark(tl).orElseThrow().freeSpaceMaps(), "not known");
            Map<RelTag, Long> fsm = Map.of(
                    new RelTag(new RelFileNode(1663, 5, 16384), ForkNumber.FSM), 3L,
                    new RelTag(new RelFileNode(1663, 5, 0x8000_0001), ForkNumber.FSM), 0xFFFF_FFF0L,
                    new RelTag(new RelFileNode(1664, 0, 1262), ForkNumber.FSM), 2L);
            Watermarks.Step step = new Watermarks.Step(Lsn.of(0x3000), Lsn.of(0x2F00), fsm);
            s.watermarks().commit(tl, List.of(), step);
            assertEquals(step, s.watermarks().watermark(tl).orElseThrow());
            assertEquals(fsm, s.watermarks().steps(tl).get(1).freeSpaceMaps());
            Watermarks.Step none = new Watermarks.Step(Lsn.of(0x4000), Lsn.of(0x3F00), Map.of());
            s.watermarks().commit(tl, List.of(), none);
            assertEquals(Map.of(), s.watermarks().watermark(tl).orElseThrow().freeSpaceMaps(), "known: none");
        }
    }

    /**
     * A step asking more than 90% of a bound never fitted in its one transaction (12 KiB per page estimated): every
     * small-bound s3 storage logged "cannot fit" at each anchor and never got page versions past its import. Under a
     * 12 MiB bound (128 pages per part) a step of 1,000 pages goes in 8 parts of versions, then the step; one closed
     * before its commit leaves the watermark where it was (the parts it stored are exact versions, kept), and the
     * step done again completes it.
     */
    @Test
    void aStepLargerThanTheBoundGoesInPartsAndTheStepComesLast() {
        try (Store s = Store.open(tmp.resolve("store"))) {
            s.cacheRoom().bound(12L << 20);
            int perPart = s.cacheRoom().pagesPerTransaction();
            assertEquals(128, perPart);
            TimelineId tl = s.timelines().create(null, Lsn.INVALID, 1).id();
            RelTag rel = new RelTag(new RelFileNode(1663, 5, 16384), ForkNumber.MAIN);
            Watermarks.Step first = new Watermarks.Step(Lsn.of(0x2000), Lsn.of(0x1F00));
            s.watermarks().commit(tl, List.of(), first);
            int pages = 1_000;
            Watermarks.Step step = new Watermarks.Step(Lsn.of(0x9000), Lsn.of(0x8F00));
            try (Watermarks.StepWriter w = s.watermarks().stepWriter(tl)) {
                for (int b = 0; b < 300; b++) {
                    w.put(new PageWrite(tl, rel, b, Lsn.of(0x5000), page(b)));
                }
                // closed before its commit: a crash mid-step
            }
            assertEquals(first, s.watermarks().watermark(tl).orElseThrow(), "no step without all its pages");
            assertArrayEquals(page(7), s.pages().get(tl, rel, 7, Lsn.of(0x8F00)).orElseThrow().page(),
                    "a committed part's version is an exact version at its own key");

            try (Watermarks.StepWriter w = s.watermarks().stepWriter(tl)) {
                for (int b = 0; b < pages; b++) {
                    w.put(new PageWrite(tl, rel, b, Lsn.of(0x5000), page(b)));
                }
                assertEquals(first, s.watermarks().watermark(tl).orElseThrow(), "the step only with its last part");
                w.commit(step);
                assertEquals((pages + perPart - 1) / perPart, w.transactions(), "parts of " + perPart + " pages");
            }
            assertEquals(step, s.watermarks().watermark(tl).orElseThrow());
            for (int b = 0; b < pages; b += 97) {
                assertArrayEquals(page(b), s.pages().get(tl, rel, b, Lsn.of(0x8F00)).orElseThrow().page(), "block " + b);
            }
            assertTrue(s.cacheRoom().usedBytes() <= 12L << 20, "within the bound: " + s.cacheRoom().usedBytes());
        }
    }

    @Test
    void unboundedAStepIsOneTransaction() {
        try (Store s = Store.open(tmp.resolve("store"))) {
            TimelineId tl = s.timelines().create(null, Lsn.INVALID, 1).id();
            RelTag rel = new RelTag(new RelFileNode(1663, 5, 16384), ForkNumber.MAIN);
            try (Watermarks.StepWriter w = s.watermarks().stepWriter(tl)) {
                for (int b = 0; b < 1_000; b++) {
                    w.put(new PageWrite(tl, rel, b, Lsn.of(0x5000), page(b)));
                }
                w.commit(new Watermarks.Step(Lsn.of(0x9000), Lsn.of(0x8F00)));
                assertEquals(1, w.transactions());
            }
        }
    }

    /** A page whose bytes say which block it is (compressible: the store holds little of it). */
    private static byte[] page(int block) {
        byte[] p = new byte[8192];
        Arrays.fill(p, 24, 8192, (byte) block);
        p[0] = (byte) (block >> 8);
        return p;
    }
}
