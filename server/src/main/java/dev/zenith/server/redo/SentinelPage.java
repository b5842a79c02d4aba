package dev.zenith.server.redo;

import dev.zenith.storage.page.PageChecksum;
import dev.zenith.storage.page.PageLayout;
import dev.zenith.wal.Lsn;

/**
 * An empty, valid page whose pd_lsn lies past every record a run replays: what a run puts where a
 * block it does not want is checked by wal_consistency_checking. Such records make replay read the
 * block again after redo (verifyBackupPageConsistency, in RBM_NORMAL_NO_LOG mode), and a hole of
 * zeros there fails its masking ("invalid page pd_lower 0"); a block past the end of the file is
 * skipped, and so is this page: redo finds it newer than each record (BLK_DONE, nothing changed,
 * never dirtied) and the check skips pages newer than the record. A will-init record or an image
 * overwrites it like any page.
 */
final class SentinelPage {
    private SentinelPage() {
    }

    /** The page for block {@code block} of its fork, newer than every record ending at or before {@code target}. */
    static byte[] of(long block, Lsn target) {
        byte[] page = new byte[PageLayout.BLCKSZ];
        long lsn = ((target.value() + 7) & ~7L) + 8;
        putInt(page, 0, (int) (lsn >>> 32)); // pd_lsn.xlogid
        putInt(page, 4, (int) lsn); // pd_lsn.xrecoff
        putShort(page, 12, 24); // pd_lower: SizeOfPageHeaderData
        putShort(page, 14, PageLayout.BLCKSZ); // pd_upper
        putShort(page, 16, PageLayout.BLCKSZ); // pd_special
        putShort(page, 18, PageLayout.BLCKSZ | 4); // pd_pagesize_version: PG_PAGE_LAYOUT_VERSION 4
        putShort(page, 8, PageChecksum.compute(page, block));
        return page;
    }

    private static void putShort(byte[] b, int off, int v) {
        b[off] = (byte) v;
        b[off + 1] = (byte) (v >>> 8);
    }

    private static void putInt(byte[] b, int off, int v) {
        for (int i = 0; i < 4; i++) {
            b[off + i] = (byte) (v >>> (8 * i));
        }
    }
}
