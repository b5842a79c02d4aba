package dev.zenith.storage.anchor;

import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.wal.Lsn;

import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;

/**
 * An anchor as the store keeps it: what a redo run needs to start at checkpoint C of a store
 * timeline besides pages and WAL (docs/page-versions.md, "Anchors"). The store checks nothing about
 * PostgreSQL's formats; the server's {@code Anchor} does, before storing and after reading.
 *
 * @param timeline      the store timeline whose WAL holds C's record
 * @param checkpointLsn where C's record starts (the key)
 * @param redoLsn       C's redo point
 * @param recordEnd     where C's record ends: the anchor is usable for targets at or after it
 * @param pgTimeline    the PostgreSQL timeline C was written on
 * @param pgControl     global/pg_control naming C
 * @param files         status files (path relative to the data directory -> contents)
 */
public record StoredAnchor(TimelineId timeline, Lsn checkpointLsn, Lsn redoLsn, Lsn recordEnd, int pgTimeline,
                           byte[] pgControl, Map<String, byte[]> files) {
    public StoredAnchor {
        Objects.requireNonNull(timeline, "timeline");
        Objects.requireNonNull(checkpointLsn, "checkpointLsn");
        Objects.requireNonNull(redoLsn, "redoLsn");
        Objects.requireNonNull(recordEnd, "recordEnd");
        Objects.requireNonNull(pgControl, "pgControl");
        if (redoLsn.isAfter(checkpointLsn) || !recordEnd.isAfter(checkpointLsn)) {
            throw new IllegalArgumentException("an anchor's redo point " + redoLsn + ", record " + checkpointLsn
                    + " and record end " + recordEnd + " are out of order");
        }
        files = new TreeMap<>(files);
    }
}
