package dev.zenith.storage.gc;

/** What one garbage collection freed. */
public record GcStats(long walBytesFreed, int imagesFreed, long pageVersionsFreed, long pageBytesFreed,
                      long indexEntriesFreed) {
    public static final GcStats NONE = new GcStats(0, 0, 0, 0, 0);

    public GcStats plus(GcStats o) {
        return new GcStats(walBytesFreed + o.walBytesFreed, imagesFreed + o.imagesFreed,
                pageVersionsFreed + o.pageVersionsFreed, pageBytesFreed + o.pageBytesFreed,
                indexEntriesFreed + o.indexEntriesFreed);
    }

    /** Stored bytes freed (WAL plus compressed page versions; images and index entries are small). */
    public long bytesFreed() {
        return walBytesFreed + pageBytesFreed;
    }
}
