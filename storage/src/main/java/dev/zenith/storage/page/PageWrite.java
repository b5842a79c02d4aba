package dev.zenith.storage.page;

import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.RelTag;
import dev.zenith.wal.segment.WalGeometry;

import java.util.Objects;

/** One page version to store: a full-page image from WAL, or a page reconstructed by redo. */
public record PageWrite(TimelineId timeline, RelTag rel, int block, Lsn lsn, byte[] page) {
    public PageWrite {
        Objects.requireNonNull(timeline, "timeline");
        Objects.requireNonNull(rel, "rel");
        Objects.requireNonNull(lsn, "lsn");
        if (page.length != WalGeometry.BLCKSZ) {
            throw new IllegalArgumentException("a page has " + WalGeometry.BLCKSZ + " bytes, not " + page.length);
        }
    }
}
