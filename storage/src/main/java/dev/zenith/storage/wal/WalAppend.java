package dev.zenith.storage.wal;

import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.wal.Lsn;

import java.util.List;
import java.util.Objects;

/**
 * WAL bytes received for a timeline, exactly as the replication protocol sends them (page headers
 * included), starting at {@code start}, plus what the caller decoded from the records in them.
 *
 * @param lastRecordEnd end LSN of the last complete record in these bytes, or null if none ends here
 */
public record WalAppend(TimelineId timeline, Lsn start, byte[] bytes, List<BlockChange> blockChanges,
                        List<CommitRecord> commits, List<Lsn> checkpoints, Lsn lastRecordEnd) {
    public WalAppend {
        Objects.requireNonNull(timeline, "timeline");
        Objects.requireNonNull(start, "start");
        Objects.requireNonNull(bytes, "bytes");
        blockChanges = List.copyOf(blockChanges);
        commits = List.copyOf(commits);
        checkpoints = List.copyOf(checkpoints);
        Lsn end = start.plus(bytes.length);
        if (lastRecordEnd != null && (lastRecordEnd.isAfter(end) || !lastRecordEnd.isAfter(start))) {
            throw new IllegalArgumentException("last record end " + lastRecordEnd + " outside (" + start + ", "
                    + end + "]");
        }
    }

    /** Bytes only, no decoded metadata. */
    public static WalAppend raw(TimelineId timeline, Lsn start, byte[] bytes) {
        return new WalAppend(timeline, start, bytes, List.of(), List.of(), List.of(), null);
    }

    public Lsn end() {
        return start.plus(bytes.length);
    }
}
