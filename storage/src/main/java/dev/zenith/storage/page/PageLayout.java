package dev.zenith.storage.page;

import dev.zenith.wal.Lsn;
import dev.zenith.wal.image.PageHeaderCheck;
import dev.zenith.wal.segment.WalGeometry;

/**
 * PostgreSQL 15's page header fields (storage/bufpage.h), little-endian as on x86-64 and arm64, and the
 * check PostgreSQL makes of a page it reads: the header rule is wal's {@link PageHeaderCheck} (no I/O,
 * below storage), the data checksum this module's {@link PageChecksum}. Sizes: {@link WalGeometry}.
 */
public final class PageLayout {
    static final int PD_CHECKSUM_OFFSET = 8;

    private PageLayout() {
    }

    /** pd_lsn: stored as two uint32 halves (xlogid, xrecoff), each in native byte order. */
    public static Lsn pageLsn(byte[] page) {
        return pageLsn(page, 0);
    }

    /** pd_lsn of the page at {@code offset} in {@code buffer}. */
    public static Lsn pageLsn(byte[] buffer, int offset) {
        long hi = u32(buffer, offset);
        long lo = u32(buffer, offset + 4);
        return Lsn.of((hi << 32) | lo);
    }

    public static int checksum(byte[] page) {
        return u16(page, PD_CHECKSUM_OFFSET);
    }

    /** PageIsNew: pd_upper == 0 means the page was never initialized. */
    public static boolean isNew(byte[] page) {
        return PageHeaderCheck.isNew(page);
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
        if (page.length != WalGeometry.BLCKSZ) {
            return "page has " + page.length + " bytes";
        }
        return verify(page, 0, blockNumber, checksumsEnabled);
    }

    /** {@link #verify(byte[], long, boolean)} of the page at {@code offset} in {@code buffer}. */
    public static String verify(byte[] buffer, int offset, long blockNumber, boolean checksumsEnabled) {
        if (checksumsEnabled && !PageHeaderCheck.isNew(buffer, offset)) { // a new page has no checksum yet
            int expected = PageChecksum.compute(buffer, offset, blockNumber);
            int actual = u16(buffer, offset + PD_CHECKSUM_OFFSET);
            if (expected != actual) {
                return String.format("checksum mismatch: page has %d, computed %d", actual, expected);
            }
        }
        return PageHeaderCheck.problem(buffer, offset);
    }

    static int u16(byte[] b, int off) {
        return (b[off] & 0xFF) | (b[off + 1] & 0xFF) << 8;
    }

    static long u32(byte[] b, int off) {
        return (b[off] & 0xFFL) | (b[off + 1] & 0xFFL) << 8 | (b[off + 2] & 0xFFL) << 16 | (b[off + 3] & 0xFFL) << 24;
    }
}
