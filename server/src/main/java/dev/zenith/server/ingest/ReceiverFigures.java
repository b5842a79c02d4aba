package dev.zenith.server.ingest;

import dev.zenith.wal.Lsn;

import java.time.Instant;

/**
 * What a WAL receiver shows (GET /pgs, {@code wal_receiver}): its state, why it holds commits up if it does,
 * and its commit figures since it started.
 *
 * @param state          the connection's state, or {@code failed}/{@code stalled} while the store refuses writes
 * @param reason         why it is failed or stalled, or null
 * @param stalledSince   since when it is stalled, or null
 */
public record ReceiverFigures(String state, String reason, Instant stalledSince, Lsn flushedLsn, Lsn indexedLsn,
                              long commits, long walBytes, double avgCommitMs, long avgBatchBytes, long socketReads,
                              long walMessages, long indexCommits, double avgIndexCommitMs) {
}
