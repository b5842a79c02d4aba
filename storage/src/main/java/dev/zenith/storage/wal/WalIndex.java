package dev.zenith.storage.wal;

import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.record.BlockReference;
import dev.zenith.wal.record.DecodedRecord;
import dev.zenith.wal.rmgr.CheckpointRecord;
import dev.zenith.wal.rmgr.MainDataDecoder;
import dev.zenith.wal.rmgr.XactCompletion;

import java.util.ArrayList;
import java.util.List;

/**
 * What the store indexes from decoded WAL records, collected for one append: which blocks each record
 * touches (for image refresh and page lookups), commit times (for time travel) and checkpoint records.
 */
public final class WalIndex {
    private List<BlockChange> blocks = new ArrayList<>();
    private List<CommitRecord> commits = new ArrayList<>();
    private List<Lsn> checkpoints = new ArrayList<>();
    private Lsn lastRecordEnd;

    public void add(DecodedRecord r) {
        for (BlockReference b : r.blocks()) {
            blocks.add(new BlockChange(b.rel(), (int) b.blockNumber(), r.startLsn()));
        }
        MainDataDecoder.decode(r).ifPresent(payload -> {
            if (payload instanceof CheckpointRecord) {
                checkpoints.add(r.startLsn());
            } else if (payload instanceof XactCompletion x && x.isCommit()) {
                commits.add(new CommitRecord(r.startLsn(), x.xactTime()));
            }
        });
        lastRecordEnd = r.endLsn();
    }

    /** Forgets what was collected: the bytes it described will be streamed and decoded again. */
    public void reset() {
        blocks = new ArrayList<>();
        commits = new ArrayList<>();
        checkpoints = new ArrayList<>();
        lastRecordEnd = null;
    }

    public Lsn lastRecordEnd() {
        return lastRecordEnd;
    }

    /** The append for these bytes with everything collected so far; the collector starts afresh. */
    public WalAppend drainInto(TimelineId timeline, Lsn start, byte[] bytes) {
        Lsn end = lastRecordEnd != null && lastRecordEnd.isAfter(start) ? lastRecordEnd : null;
        WalAppend a = new WalAppend(timeline, start, bytes, blocks, commits, checkpoints, end);
        reset();
        return a;
    }
}
