package dev.zenith.storage.page;

import dev.zenith.wal.Lsn;

/** PostgreSQL 15's page constants and header fields (storage/bufpage.h), little-endian as on x86-64 and arm64. */
public final class PageLayout {
    public static final int BLCKSZ = 8192;
    /** Blocks per 1 GiB segment file (RELSEG_SIZE). */
    public static final int RELSEG_SIZE = 131072;
    static final int PD_CHECKSUM_OFFSET = 8;
    private static final int PD_FLAGS_OFFSET = 10;
    private static final int PD_LOWER_OFFSET = 12;
    private static final int PD_UPPER_OFFSET = 14;
    private static final int PD_SPECIAL_OFFSET = 16;
    private static final int PD_VALID_FLAG_BITS = 0x0007;
    private static final int MAXALIGN = 8;

    private PageLayout() {
    }

    /** pd_lsn: stored as two uint32 halves (xlogid, xrecoff), each in native byte order. */
    public static Lsn pageLsn(byte[] page) {
        long hi = u32(page, 0);
        long lo = u32(page, 4);
        return Lsn.of((hi << 32) | lo);
    }

    public static int checksum(byte[] page) {
        return u16(page, PD_CHECKSUM_OFFSET);
    }

    /** PageIsNew: pd_upper == 0 means the page was never initialized. */
    public static boolean isNew(byte[] page) {
        return u16(page, PD_UPPER_OFFSET) == 0;
    }

    public static boolean isAllZero(byte[] page) {
        for (byte b : page) {
            if (b != 0) {
                return false;
            }
        }
        return true;
    }

    /**
     * PostgreSQL's PageIsVerifiedExtended: a new page must be all zeros; an initialized page needs
     * sane header offsets and, with data checksums on, a matching checksum. Returns null when the
     * page is fine, else why not.
     */
    public static String verify(byte[] page, long blockNumber, boolean checksumsEnabled) {
        if (page.length != BLCKSZ) {
            return "page has " + page.length + " bytes";
        }
        return verify(page, 0, blockNumber, checksumsEnabled);
    }

    /** {@link #verify(byte[], long, boolean)} of the page at {@code offset} in {@code buffer}. */
    public static String verify(byte[] buffer, int offset, long blockNumber, boolean checksumsEnabled) {
        if (u16(buffer, offset + PD_UPPER_OFFSET) == 0) { // PageIsNew
            for (int i = offset; i < offset + BLCKSZ; i++) {
                if (buffer[i] != 0) {
                    return "uninitialized page (pd_upper = 0) is not all zeros";
                }
            }
            return null;
        }
        if (checksumsEnabled) {
            int expected = PageChecksum.compute(buffer, offset, blockNumber);
            int actual = u16(buffer, offset + PD_CHECKSUM_OFFSET);
            if (expected != actual) {
                return String.format("checksum mismatch: page has %d, computed %d", actual, expected);
            }
        }
        int flags = u16(buffer, offset + PD_FLAGS_OFFSET);
        int lower = u16(buffer, offset + PD_LOWER_OFFSET);
        int upper = u16(buffer, offset + PD_UPPER_OFFSET);
        int special = u16(buffer, offset + PD_SPECIAL_OFFSET);
        if ((flags & ~PD_VALID_FLAG_BITS) != 0 || lower > upper || upper > special || special > BLCKSZ
                || special % MAXALIGN != 0) {
            return String.format("invalid page header (flags %x, lower %d, upper %d, special %d)", flags, lower,
                    upper, special);
        }
        return null;
    }

    static int u16(byte[] b, int off) {
        return (b[off] & 0xFF) | (b[off + 1] & 0xFF) << 8;
    }

    static long u32(byte[] b, int off) {
        return (b[off] & 0xFFL) | (b[off + 1] & 0xFFL) << 8 | (b[off + 2] & 0xFFL) << 16 | (b[off + 3] & 0xFFL) << 24;
    }
}
