package dev.zenith.server.ingest;

import dev.zenith.wal.Lsn;

import java.time.Instant;
import java.util.concurrent.atomic.LongAdder;

/** What a user benchmarking us wants to see: how often we commit, how long a commit takes, how big. */
final class ReceiverCounters {
    private final LongAdder commits = new LongAdder();
    private final LongAdder commitNanos = new LongAdder();
    private final LongAdder committedBytes = new LongAdder();
    private final LongAdder indexCommits = new LongAdder();
    private final LongAdder indexNanos = new LongAdder();
    private final LongAdder socketReads = new LongAdder();
    private final LongAdder walMessages = new LongAdder();

    void socketRead() {
        socketReads.increment();
    }

    void walMessage() {
        walMessages.increment();
    }

    /** One journal write (the commit the compute waits for). */
    void journaled(long bytes, long nanos) {
        commitNanos.add(nanos);
        commits.increment();
        committedBytes.add(bytes);
    }

    /** One LMDB commit of journaled WAL. */
    void indexed(long nanos) {
        indexNanos.add(nanos);
        indexCommits.increment();
    }

    ReceiverFigures figures(String state, String reason, Instant stalledSince, Lsn flushed, Lsn indexed) {
        long n = commits.sum();
        long ni = indexCommits.sum();
        return new ReceiverFigures(state, reason, stalledSince, flushed, indexed, n, committedBytes.sum(),
                n == 0 ? 0.0 : Math.round(commitNanos.sum() / 1e4 / n) / 100.0,
                n == 0 ? 0 : committedBytes.sum() / n, socketReads.sum(), walMessages.sum(), ni,
                ni == 0 ? 0.0 : Math.round(indexNanos.sum() / 1e4 / ni) / 100.0);
    }
}
