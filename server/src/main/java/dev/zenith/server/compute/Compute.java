package dev.zenith.server.compute;

import dev.zenith.server.domain.UnavailableException;
import dev.zenith.server.ingest.WalReceiver;
import dev.zenith.wal.Lsn;

/** A compute's persistent record plus what only the running daemon knows. */
final class Compute {
    volatile PgRecord record;
    final PostgresProcess process;
    volatile boolean running;
    /** Set while we stop it ourselves, so the crash watcher does not mistake that for a death. */
    volatile boolean stopping;
    /**
     * Set while its start builds or readies the data directory and waits for PostgreSQL, without the
     * management lock: not running yet, but the primary of its timeline already for other starts' checks, and
     * nothing the crash watcher looks at.
     */
    volatile boolean starting;
    volatile WalReceiver receiver;
    /** The daemon's SQL connection to it, made at the first question, closed when it stops. */
    volatile ComputeSql sql;
    volatile Lsn lastLsn = Lsn.INVALID;
    /**
     * A password its start gave role postgres that the storage does not keep yet (until its WAL is durable in the
     * store): the pass file names this one meanwhile. Null otherwise.
     */
    volatile String unkeptPassword;
    /**
     * The long action under way on it, if any. Such an action lets go of the management lock while it
     * waits; meanwhile other actions on this pg are refused (409), other pgs' go on.
     */
    volatile Busy busy;

    enum Busy {
        STARTING("starting"), STOPPING("stopping"), PROMOTING("being promoted"), CHECKING_OUT("checking out"), DESTROYING("being destroyed");

        private final String shown;

        Busy(String shown) {
            this.shown = shown;
        }

        @Override
        public String toString() {
            return shown;
        }
    }

    Compute(PgRecord record, PostgresProcess process) {
        this.record = record;
        this.process = process;
    }

    String name() {
        return record.name();
    }

    boolean isPrimary() {
        return record.primary();
    }

    /**
     * Blocks until the store's readable WAL holds every commit the pg's receiver acknowledged (LMDB
     * trails the WAL journal by a batch), so "now", an LSN check or a time sees what clients saw commit.
     */
    void catchUp() {
        WalReceiver rx = receiver;
        if (rx == null) {
            return;
        }
        try {
            if (!rx.awaitIndexed(30_000)) {
                throw new UnavailableException("the store is still catching up with pg '" + name() + "'s WAL; try again");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new UnavailableException("interrupted");
        }
    }

    /** Running, or starting, as the primary of {@code other}'s timeline (the one writer a timeline may have). */
    boolean runsAsPrimaryOf(PgRecord other) {
        return (running || starting) && isPrimary() && record.sameTimelineAs(other);
    }
}
