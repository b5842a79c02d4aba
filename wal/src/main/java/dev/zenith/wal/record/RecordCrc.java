package dev.zenith.wal.record;

import java.util.zip.CRC32C;

/**
 * A record's CRC-32C: over everything after the header, then over the header up to xl_crc
 * (xlogreader.c's ValidXLogRecord order). CRC32C is intrinsified by the JVM.
 */
public final class RecordCrc {
    private RecordCrc() {
    }

    public static int compute(byte[] b, int off, int totalLength) {
        CRC32C crc = new CRC32C();
        crc.update(b, off + RecordHeader.CRC + 4, totalLength - RecordHeader.CRC - 4);
        crc.update(b, off, RecordHeader.CRC);
        return (int) crc.getValue();
    }

    public static boolean isValid(byte[] b, int off, int totalLength) {
        return compute(b, off, totalLength) == RecordHeader.crc(b, off);
    }
}
