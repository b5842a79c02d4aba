package dev.zenith.wal.segment;

/**
 * Fixed sizes of PostgreSQL 15 built with default sizes on x86-64 (8 KiB relation and WAL pages, 1 GiB
 * relation segment files, 16 MiB WAL segments, 8-byte MAXALIGN): the one place each is spelled, for
 * every module.
 */
public final class WalGeometry {
    /** Bytes per relation page (BLCKSZ). */
    public static final int BLCKSZ = 8192;
    /** Blocks per 1 GiB relation segment file (RELSEG_SIZE). */
    public static final int RELSEG_SIZE = 131072;
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
