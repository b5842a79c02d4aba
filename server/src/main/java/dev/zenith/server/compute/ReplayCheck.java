package dev.zenith.server.compute;

import dev.zenith.wal.Lsn;

import java.io.IOException;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * A rebuilt compute's start is accepted only once PostgreSQL replayed the store's WAL to its end: where
 * replay stopped (pg_control, the new timeline's switch point, or a standby's replay position asked over
 * SQL), and what is done with one that stopped short. Blocking.
 */
final class ReplayCheck {
    private static final Logger LOG = Logger.getLogger(ReplayCheck.class.getName());

    private ReplayCheck() {
    }

    /**
     * A rebuilt compute is only started once PostgreSQL has replayed the store's WAL up to {@code target}:
     * recovery that stops early (WAL it cannot read) would otherwise open a primary at an older state and
     * let it write over the history, or leave a standby behind for good. One that stops short is stopped
     * again, and its directory is rebuilt at its next start; its receiver never started, so nothing it
     * wrote reached the store.
     */
    static void require(Compute c, Lsn target, Lsn replayed) throws ComputeLifecycle.StartFailed {
        PgRecord r = c.record;
        if (replayed.isBefore(target)) {
            String log = c.process.logTail(30).lines().filter(l -> l.contains("redo") || l.contains("record")
                    || l.contains("WAL") || l.contains("checksum")).reduce((a, b) -> a + "\n" + b).orElse("");
            throw new ComputeLifecycle.StartFailed("pg '" + r.name() + "' replayed the store's WAL only up to " + replayed
                    + ", not to " + target + " (timeline " + r.timeline() + " on storage '" + r.storageName()
                    + "'): PostgreSQL could not read the WAL after that; it was stopped and nothing it wrote was kept."
                    + (log.isEmpty() ? "" : " Its log:\n" + log), null);
        }
    }

    /** Where a rebuilt compute that stays on its timeline stopped replaying (a standby: once it reached {@code target}). */
    static Lsn replayed(Compute c, ComputeSql sql, Lsn target) throws IOException {
        PgRecord r = c.record;
        return r.readOnly() || r.replica() ? replayedAsStandby(sql, target)
                : ComputeDirectories.recoveryEnd(c.process);
    }

    /** Stops a compute that started but failed its checks; its next start rebuilds its directory. */
    static void stopUnaccepted(Compute c) {
        c.stopping = true;
        try {
            c.process.stop();
            ComputeChannels.closeSql(c);
        } catch (IOException e) {
            LOG.log(Level.WARNING, "pg " + c.name() + " could not be stopped after a failed start", e);
        } finally {
            c.stopping = false;
        }
    }

    /** How long a standby's replay may stand still short of its target before its start counts as failed. */
    private static final long STANDBY_STALL_SECONDS = 30;

    /**
     * A standby's replay position once it has reached {@code target}, or where it stopped: it is given
     * time as long as it makes progress (a replica replays the WAL it was built with after it opens).
     */
    private static Lsn replayedAsStandby(ComputeSql sql, Lsn target) throws IOException {
        Lsn replayed = Lsn.INVALID;
        long lastProgress = System.nanoTime();
        while (true) {
            String value = sql.queryValueBlocking("SELECT pg_last_wal_replay_lsn()::text", 60);
            Lsn now = value == null || value.isEmpty() ? Lsn.INVALID : Lsn.parse(value);
            if (!now.isBefore(target)) {
                return now;
            }
            if (now.isAfter(replayed)) {
                replayed = now;
                lastProgress = System.nanoTime();
            } else if (System.nanoTime() - lastProgress > TimeUnit.SECONDS.toNanos(STANDBY_STALL_SECONDS)) {
                return replayed;
            }
            PostgresProcess.sleep(100);
        }
    }
}
