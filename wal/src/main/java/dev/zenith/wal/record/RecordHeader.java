package dev.zenith.wal.record;

import dev.zenith.wal.bytes.LittleEndian;

/** Field access to an XLogRecord header (24 bytes) wherever it lies in a byte array. */
public final class RecordHeader {
    public static final int TOT_LEN = 0;
    public static final int XID = 4;
    public static final int PREV = 8;
    public static final int INFO = 16;
    public static final int RMID = 17;
    public static final int CRC = 20;

    private RecordHeader() {
    }

    public static int totalLength(byte[] b, int off) {
        return LittleEndian.i32(b, off + TOT_LEN);
    }

    public static long xid(byte[] b, int off) {
        return LittleEndian.u32(b, off + XID);
    }

    public static long prev(byte[] b, int off) {
        return LittleEndian.i64(b, off + PREV);
    }

    public static int info(byte[] b, int off) {
        return LittleEndian.u8(b, off + INFO);
    }

    public static int rmid(byte[] b, int off) {
        return LittleEndian.u8(b, off + RMID);
    }

    public static int crc(byte[] b, int off) {
        return LittleEndian.i32(b, off + CRC);
    }
}
