package dev.zenith.wal.image;

import dev.zenith.wal.bytes.LittleEndian;
import dev.zenith.wal.segment.WalGeometry;

/** The header sanity checks of PostgreSQL's PageIsVerifiedExtended (storage/bufpage.h layout). */
public final class PageHeaderCheck {
    public static final int PG_PAGE_LAYOUT_VERSION = 4;
    private static final int PD_VALID_FLAG_BITS = 0x0007;

    private PageHeaderCheck() {
    }

    /** PageIsNew: pd_upper == 0, as for a freshly extended, all-zero page. */
    public static boolean isNew(byte[] page) {
        return LittleEndian.u16(page, 14) == 0;
    }

    /** @return null if the header is sane, else what is wrong */
    public static String problem(byte[] page) {
        if (page.length != WalGeometry.BLCKSZ) {
            return "page is " + page.length + " bytes";
        }
        int flags = LittleEndian.u16(page, 10);
        int lower = LittleEndian.u16(page, 12);
        int upper = LittleEndian.u16(page, 14);
        int special = LittleEndian.u16(page, 16);
        int sizeVersion = LittleEndian.u16(page, 18);
        if (isNew(page)) {
            for (byte b : page) {
                if (b != 0) {
                    return "pd_upper is 0 but the page is not all zeros";
                }
            }
            return null;
        }
        if ((flags & ~PD_VALID_FLAG_BITS) != 0) {
            return "invalid pd_flags 0x" + Integer.toHexString(flags);
        }
        if (!(lower <= upper && upper <= special && special <= WalGeometry.BLCKSZ)) {
            return "pd_lower " + lower + " pd_upper " + upper + " pd_special " + special + " out of order";
        }
        if (special != WalGeometry.maxAlign(special)) {
            return "pd_special " + special + " not MAXALIGNed";
        }
        if ((sizeVersion & 0xFF) != PG_PAGE_LAYOUT_VERSION || (sizeVersion & 0xFF00) != WalGeometry.BLCKSZ) {
            return "pd_pagesize_version 0x" + Integer.toHexString(sizeVersion);
        }
        return null;
    }
}
