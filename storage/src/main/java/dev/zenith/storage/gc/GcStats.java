package dev.zenith.storage.gc;

/** What one garbage collection freed. */
public record GcStats(long walBytesFreed, int imagesFreed, long pageVersionsFreed, long indexEntriesFreed) {
    public GcStats plus(GcStats o) {
        return new GcStats(walBytesFreed + o.walBytesFreed, imagesFreed + o.imagesFreed,
                pageVersionsFreed + o.pageVersionsFreed, indexEntriesFreed + o.indexEntriesFreed);
    }
}
