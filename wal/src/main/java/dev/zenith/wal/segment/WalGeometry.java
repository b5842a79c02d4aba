package dev.zenith.wal.segment;

/**
 * Fixed sizes of the WAL this library reads: PostgreSQL 15 built with default sizes on x86-64
 * (8 KiB WAL pages, 16 MiB segments, 8-byte MAXALIGN).
 */
public final class WalGeometry {
    public static final int BLCKSZ = 8192;
    public static final int XLOG_BLCKSZ = 8192;
    public static final int WAL_SEGMENT_SIZE = 16 * 1024 * 1024;
    public static final int MAXIMUM_ALIGNOF = 8;
    /** MAXALIGN(sizeof(XLogPageHeaderData)). */
    public static final int SHORT_PAGE_HEADER_SIZE = 24;
    /** MAXALIGN(sizeof(XLogLongPageHeaderData)). */
    public static final int LONG_PAGE_HEADER_SIZE = 40;
    /** sizeof(XLogRecord) up to and including xl_crc. */
    public static final int RECORD_HEADER_SIZE = 24;
    public static final int XLOG_PAGE_MAGIC = 0xD110;

    private WalGeometry() {
    }

    public static long maxAlign(long v) {
        return (v + MAXIMUM_ALIGNOF - 1) & ~(long) (MAXIMUM_ALIGNOF - 1);
    }
}
