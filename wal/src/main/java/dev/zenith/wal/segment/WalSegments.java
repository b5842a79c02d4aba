package dev.zenith.wal.segment;

import dev.zenith.wal.Lsn;

import static dev.zenith.wal.segment.WalGeometry.LONG_PAGE_HEADER_SIZE;
import static dev.zenith.wal.segment.WalGeometry.SHORT_PAGE_HEADER_SIZE;
import static dev.zenith.wal.segment.WalGeometry.WAL_SEGMENT_SIZE;
import static dev.zenith.wal.segment.WalGeometry.XLOG_BLCKSZ;

/** WAL segment naming and position arithmetic (xlog_internal.h's XLogSegNo/XLogFileName macros). */
public final class WalSegments {
    private static final long SEGMENTS_PER_XLOG_ID = 0x1_0000_0000L / WAL_SEGMENT_SIZE;

    private WalSegments() {
    }

    /** XLByteToSeg. */
    public static long segmentNumber(long lsn) {
        return Long.divideUnsigned(lsn, WAL_SEGMENT_SIZE);
    }

    public static long segmentNumber(Lsn lsn) {
        return segmentNumber(lsn.value());
    }

    /** XLogSegmentOffset. */
    public static int segmentOffset(long lsn) {
        return (int) (lsn & (WAL_SEGMENT_SIZE - 1));
    }

    /** XLogSegNoOffsetToRecPtr. */
    public static long segmentStart(long segno) {
        return segno * WAL_SEGMENT_SIZE;
    }

    public static int pageOffset(long lsn) {
        return (int) (lsn & (XLOG_BLCKSZ - 1));
    }

    public static long pageStart(long lsn) {
        return lsn & ~(long) (XLOG_BLCKSZ - 1);
    }

    public static boolean isPageBoundary(long lsn) {
        return pageOffset(lsn) == 0;
    }

    public static boolean isSegmentBoundary(long lsn) {
        return segmentOffset(lsn) == 0;
    }

    /** Size of the page header at a page start: long on the first page of a segment. */
    public static int pageHeaderSize(long pageStart) {
        return isSegmentBoundary(pageStart) ? LONG_PAGE_HEADER_SIZE : SHORT_PAGE_HEADER_SIZE;
    }

    /**
     * Where a record written at {@code lsn} really begins: a position on a page boundary is
     * moved past the page header, as PostgreSQL's XLogInsert does.
     */
    public static long skipPageHeader(long lsn) {
        return isPageBoundary(lsn) ? lsn + pageHeaderSize(lsn) : lsn;
    }

    /** XLogFileName: 8 hex digits each of timeline, high and low part of the segment number. */
    public static String fileName(int timeline, long segno) {
        return String.format("%08X%08X%08X", timeline, segno / SEGMENTS_PER_XLOG_ID, segno % SEGMENTS_PER_XLOG_ID);
    }

    public static String fileName(int timeline, Lsn lsn) {
        return fileName(timeline, segmentNumber(lsn));
    }

    /** A parsed segment file name. */
    public record SegmentName(int timeline, long segno) {
        public long startLsn() {
            return segmentStart(segno);
        }
    }

    /** IsXLogFileName + XLogFromFileName; throws on anything else (partial, history, backup files). */
    public static SegmentName parseFileName(String name) {
        if (name.length() != 24 || !name.chars().allMatch(c -> (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F'))) {
            throw new IllegalArgumentException("not a WAL segment file name: " + name);
        }
        int tli = (int) Long.parseLong(name.substring(0, 8), 16);
        long log = Long.parseLong(name.substring(8, 16), 16);
        long seg = Long.parseLong(name.substring(16, 24), 16);
        if (seg >= SEGMENTS_PER_XLOG_ID) {
            throw new IllegalArgumentException("segment part out of range in WAL file name: " + name);
        }
        return new SegmentName(tli, log * SEGMENTS_PER_XLOG_ID + seg);
    }

    public static boolean isSegmentFileName(String name) {
        try {
            parseFileName(name);
            return true;
        } catch (IllegalArgumentException e) {
            return false;
        }
    }
}
