package dev.zenith.wal.page;

import dev.zenith.wal.bytes.LittleEndian;
import dev.zenith.wal.segment.WalGeometry;

/**
 * A WAL page header (XLogPageHeaderData, and XLogLongPageHeaderData on a segment's first page).
 * {@code systemId}, {@code segmentSize} and {@code xlogBlockSize} are 0 in a short header.
 */
public record PageHeader(int magic, int info, int timeline, long pageAddress, int remainingLength,
                         long systemId, int segmentSize, int xlogBlockSize) {
    public static final int XLP_FIRST_IS_CONTRECORD = 0x0001;
    public static final int XLP_LONG_HEADER = 0x0002;
    public static final int XLP_BKP_REMOVABLE = 0x0004;
    public static final int XLP_FIRST_IS_OVERWRITE_CONTRECORD = 0x0008;
    public static final int XLP_ALL_FLAGS = 0x000F;

    public boolean isLong() {
        return (info & XLP_LONG_HEADER) != 0;
    }

    public boolean isContinuation() {
        return (info & XLP_FIRST_IS_CONTRECORD) != 0;
    }

    public int size() {
        return isLong() ? WalGeometry.LONG_PAGE_HEADER_SIZE : WalGeometry.SHORT_PAGE_HEADER_SIZE;
    }

    /** Reads the short part; the long fields only when {@code hasLongPart} (caller has 40 bytes). */
    public static PageHeader read(byte[] b, int off, boolean hasLongPart) {
        int info = LittleEndian.u16(b, off + 2);
        boolean isLong = hasLongPart && (info & XLP_LONG_HEADER) != 0;
        return new PageHeader(LittleEndian.u16(b, off), info, LittleEndian.i32(b, off + 4),
                LittleEndian.i64(b, off + 8), LittleEndian.i32(b, off + 16),
                isLong ? LittleEndian.i64(b, off + 24) : 0, isLong ? LittleEndian.i32(b, off + 32) : 0,
                isLong ? LittleEndian.i32(b, off + 36) : 0);
    }

    /** Writes this header (short or long per {@link #isLong()}) and zeroes its alignment padding. */
    public void write(byte[] b, int off) {
        java.util.Arrays.fill(b, off, off + size(), (byte) 0);
        LittleEndian.put16(b, off, magic);
        LittleEndian.put16(b, off + 2, info);
        LittleEndian.put32(b, off + 4, timeline);
        LittleEndian.put64(b, off + 8, pageAddress);
        LittleEndian.put32(b, off + 16, remainingLength);
        if (isLong()) {
            LittleEndian.put64(b, off + 24, systemId);
            LittleEndian.put32(b, off + 32, segmentSize);
            LittleEndian.put32(b, off + 36, xlogBlockSize);
        }
    }
}
