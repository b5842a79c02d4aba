package dev.zenith.wal.image;

import dev.zenith.wal.bytes.LittleEndian;
import dev.zenith.wal.segment.WalGeometry;

/**
 * PostgreSQL 15's page header rule, the one place it is spelled (storage/bufpage.h layout;
 * PageIsVerifiedExtended in bufpage.c): a new page (pd_upper 0) must be all zeros, an initialized one
 * needs valid pd_flags bits and pd_lower <= pd_upper <= pd_special <= BLCKSZ with pd_special MAXALIGNed.
 * The data checksum, which that function checks too, is the caller's (storage's PageLayout): a page
 * restored from a WAL full-page image has none worth checking.
 */
public final class PageHeaderCheck {
    static final int PD_FLAGS_OFFSET = 10;
    static final int PD_LOWER_OFFSET = 12;
    static final int PD_UPPER_OFFSET = 14;
    static final int PD_SPECIAL_OFFSET = 16;
    private static final int PD_VALID_FLAG_BITS = 0x0007;

    private PageHeaderCheck() {
    }

    /** PageIsNew: pd_upper == 0, as for a freshly extended, all-zero page. */
    public static boolean isNew(byte[] page) {
        return isNew(page, 0);
    }

    /** {@link #isNew(byte[])} of the page at {@code offset} in {@code buffer}. */
    public static boolean isNew(byte[] buffer, int offset) {
        return LittleEndian.u16(buffer, offset + PD_UPPER_OFFSET) == 0;
    }

    /** @return null if the page's header is sane, else what is wrong */
    public static String problem(byte[] page) {
        if (page.length != WalGeometry.BLCKSZ) {
            return "page has " + page.length + " bytes";
        }
        return problem(page, 0);
    }

    /** {@link #problem(byte[])} of the page at {@code offset} in {@code buffer}. */
    public static String problem(byte[] buffer, int offset) {
        if (isNew(buffer, offset)) {
            for (int i = offset; i < offset + WalGeometry.BLCKSZ; i++) {
                if (buffer[i] != 0) {
                    return "uninitialized page (pd_upper = 0) is not all zeros";
                }
            }
            return null;
        }
        int flags = LittleEndian.u16(buffer, offset + PD_FLAGS_OFFSET);
        int lower = LittleEndian.u16(buffer, offset + PD_LOWER_OFFSET);
        int upper = LittleEndian.u16(buffer, offset + PD_UPPER_OFFSET);
        int special = LittleEndian.u16(buffer, offset + PD_SPECIAL_OFFSET);
        if ((flags & ~PD_VALID_FLAG_BITS) != 0 || lower > upper || upper > special || special > WalGeometry.BLCKSZ
                || special != WalGeometry.maxAlign(special)) {
            return String.format("invalid page header (flags %x, lower %d, upper %d, special %d)", flags, lower,
                    upper, special);
        }
        return null;
    }
}
