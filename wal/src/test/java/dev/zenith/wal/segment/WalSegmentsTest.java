package dev.zenith.wal.segment;

import dev.zenith.wal.Lsn;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Segment names and position math, against values PostgreSQL itself prints. */
class WalSegmentsTest {
    @Test
    void namesAndNumbers() {
        assertEquals("000000010000000000000001", WalSegments.fileName(1, 1));
        // pg_walfile_name('0/16B3748') on timeline 1
        assertEquals("000000010000000000000001", WalSegments.fileName(1, Lsn.parse("0/16B3748")));
        // segment 0x1FF of log 0x3 is 3/FF000000
        assertEquals("0000000200000003000000FF", WalSegments.fileName(2, Lsn.parse("3/FF000010")));
        WalSegments.SegmentName n = WalSegments.parseFileName("0000000200000003000000FF");
        assertEquals(2, n.timeline());
        assertEquals(Lsn.parse("3/FF000000").value(), n.startLsn());
        assertFalse(WalSegments.isSegmentFileName("000000010000000000000001.partial"));
        assertFalse(WalSegments.isSegmentFileName("00000001.history"));
        assertThrows(IllegalArgumentException.class, () -> WalSegments.parseFileName("000000010000000000000100"));
    }

    @Test
    void offsetsAndBoundaries() {
        long lsn = Lsn.parse("0/16B3748").value();
        assertEquals(1, WalSegments.segmentNumber(lsn));
        assertEquals(0x6B3748, WalSegments.segmentOffset(lsn));
        assertEquals(0x16B2000, WalSegments.pageStart(lsn));
        assertEquals(0x1748, WalSegments.pageOffset(lsn));
        assertTrue(WalSegments.isPageBoundary(0x16B2000));
        assertFalse(WalSegments.isSegmentBoundary(0x16B2000));
        assertEquals(0x16B2018, WalSegments.skipPageHeader(0x16B2000));
        assertEquals(0x2000028, WalSegments.skipPageHeader(0x2000000));
        assertEquals(0x16B3748, WalSegments.skipPageHeader(0x16B3748));
        assertEquals(Lsn.parse("0/16B3748"), Lsn.of(lsn));
        assertEquals("0/16B3748", Lsn.of(lsn).toString());
    }
}
