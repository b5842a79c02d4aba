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
        return appendLsn(new StringBuilder(17), lsn.value()).toString();
    }

    private static StringBuilder appendLsn(StringBuilder sb, long v) {
        sb.append(Long.toHexString(v >>> 32).toUpperCase()).append('/');
        String lo = Long.toHexString(v & 0xFFFFFFFFL).toUpperCase();
        for (int i = lo.length(); i < 8; i++) {
            sb.append('0');
        }
        return sb.append(lo);
    }

    /** Right-aligns like printf's %Nd (plain appends: String.format is too slow for a dump of millions). */
    private static StringBuilder pad(StringBuilder sb, long value, int width) {
        String s = Long.toString(value);
        for (int i = s.length(); i < width; i++) {
            sb.append(' ');
        }
        return sb.append(s);
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
        StringBuilder sb = new StringBuilder(160).append("rmgr: ").append(r.rmgrName());
        for (int i = r.rmgrName().length(); i < 11; i++) {
            sb.append(' ');
        }
        sb.append(" len (rec/tot): ");
        pad(sb, total - r.fullPageImageBytes(), 6).append('/');
        pad(sb, total, 6).append(", tx: ");
        pad(sb, r.xid(), 10).append(", lsn: ");
        appendLsn(sb, r.startLsn().value()).append(", prev ");
        appendLsn(sb, r.prevLsn().value()).append(", desc: ").append(id == null ? "" : id).append(' ').append(desc);
        return sb.toString();
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
