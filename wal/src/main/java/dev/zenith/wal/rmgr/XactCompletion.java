package dev.zenith.wal.rmgr;

import dev.zenith.wal.Lsn;
import dev.zenith.wal.RelFileNode;

import java.time.Instant;
import java.util.List;

/**
 * A transaction's commit or abort (XLOG_XACT_COMMIT/ABORT and their _PREPARED forms), parsed like
 * ParseCommitRecord/ParseAbortRecord. {@code xactTime} is a TimestampTz (microseconds since
 * 2000-01-01 UTC); ids are unsigned, held in longs; absent parts are 0, empty or null.
 */
public record XactCompletion(Kind kind, long xactTime, int xinfo, long dbId, long tablespaceId, long[] subxacts,
                             List<RelFileNode> droppedRelations, int droppedStatsCount, int invalidationCount,
                             long twoPhaseXid, String gid, Lsn originLsn, long originTimestamp) implements WalPayload {
    public enum Kind {
        COMMIT, ABORT, COMMIT_PREPARED, ABORT_PREPARED;

        public boolean isCommit() {
            return this == COMMIT || this == COMMIT_PREPARED;
        }
    }

    public Instant instant() {
        return PgTimestamp.toInstant(xactTime);
    }

    public boolean isCommit() {
        return kind.isCommit();
    }
}
