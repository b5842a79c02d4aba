package dev.zenith.storage.gc;

import dev.zenith.storage.timeline.TimelineId;

import java.util.ArrayList;
import java.util.List;

/**
 * What one garbage collection freed. {@code timelinesFreed}: timelines nothing used any more, deleted
 * with all their data; {@code blobsFreed}: file contents no image refers to any more.
 */
public record GcStats(long walBytesFreed, int imagesFreed, long pageVersionsFreed, long pageBytesFreed,
                      long indexEntriesFreed, List<TimelineId> timelinesFreed, long blobsFreed) {
    public static final GcStats NONE = new GcStats(0, 0, 0, 0, 0, List.of(), 0);

    public GcStats {
        timelinesFreed = List.copyOf(timelinesFreed);
    }

    public GcStats plus(GcStats o) {
        List<TimelineId> timelines = new ArrayList<>(timelinesFreed);
        timelines.addAll(o.timelinesFreed);
        return new GcStats(walBytesFreed + o.walBytesFreed, imagesFreed + o.imagesFreed,
                pageVersionsFreed + o.pageVersionsFreed, pageBytesFreed + o.pageBytesFreed,
                indexEntriesFreed + o.indexEntriesFreed, timelines, blobsFreed + o.blobsFreed);
    }

    /** Stored bytes freed (WAL plus compressed page versions; images, blobs and index entries are small). */
    public long bytesFreed() {
        return walBytesFreed + pageBytesFreed;
    }
}
