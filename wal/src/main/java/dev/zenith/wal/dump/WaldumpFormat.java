package dev.zenith.wal.dump;

import dev.zenith.wal.Lsn;
import dev.zenith.wal.RelFileNode;
import dev.zenith.wal.record.BlockReference;
import dev.zenith.wal.record.DecodedRecord;
import dev.zenith.wal.record.ImageCompression;
import dev.zenith.wal.rmgr.RecordDescriber;
import dev.zenith.wal.segment.WalGeometry;

/** Text of one record in {@code pg_waldump -b} layout (pg_waldump.c's XLogDumpDisplayRecord). */
public final class WaldumpFormat {
    private WaldumpFormat() {
    }

    /** pg_waldump pads the low half of LSNs to 8 digits. */
    public static String lsn(Lsn lsn) {
        long v = lsn.value();
        return String.format("%X/%08X", v >>> 32, v & 0xFFFFFFFFL);
    }

    /** The record line, without a line terminator. */
    public static String recordLine(DecodedRecord r) {
        String id = RecordDescriber.identify(r);
        String desc;
        try {
            desc = RecordDescriber.describe(r);
        } catch (IllegalArgumentException e) {
            desc = "(undecodable: " + e.getMessage() + ")";
        }
        int total = r.totalLength();
        return String.format("rmgr: %-11s len (rec/tot): %6d/%6d, tx: %10d, lsn: %s, prev %s, desc: %s %s",
                r.rmgrName(), total - r.fullPageImageBytes(), total, r.xid(), lsn(r.startLsn()), lsn(r.prevLsn()),
                id == null ? "" : id, desc);
    }

    /** A block reference line, tab first, as pg_waldump -b prints it. */
    public static String blockLine(BlockReference b) {
        RelFileNode n = b.rel().node();
        StringBuilder sb = new StringBuilder(96).append("\tblkref #").append(b.blockId()).append(": rel ").append(n)
                .append(" fork ").append(b.rel().fork().displayName()).append(" blk ").append(b.blockNumber());
        if (b.hasImage()) {
            sb.append(" (FPW").append(b.applyImage() ? "" : " for WAL verification").append("); hole: offset: ")
                    .append(b.holeOffset()).append(", length: ").append(b.holeLength());
            if (b.compression() != ImageCompression.NONE) {
                sb.append(", compression saved: ")
                        .append(WalGeometry.BLCKSZ - b.holeLength() - b.imageLength())
                        .append(", method: ").append(b.compression().methodName());
            }
        }
        return sb.toString();
    }
}
