package dev.zenith.server.redo;

import dev.zenith.storage.page.PageChecksum;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.bytes.LittleEndian;
import dev.zenith.wal.segment.WalGeometry;

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
        byte[] page = new byte[WalGeometry.BLCKSZ];
        long lsn = ((target.value() + 7) & ~7L) + 8;
        LittleEndian.put32(page, 0, (int) (lsn >>> 32)); // pd_lsn.xlogid
        LittleEndian.put32(page, 4, (int) lsn); // pd_lsn.xrecoff
        LittleEndian.put16(page, 12, 24); // pd_lower: SizeOfPageHeaderData
        LittleEndian.put16(page, 14, WalGeometry.BLCKSZ); // pd_upper
        LittleEndian.put16(page, 16, WalGeometry.BLCKSZ); // pd_special
        LittleEndian.put16(page, 18, WalGeometry.BLCKSZ | 4); // pd_pagesize_version: PG_PAGE_LAYOUT_VERSION 4
        LittleEndian.put16(page, 8, PageChecksum.compute(page, block));
        return page;
    }
}
