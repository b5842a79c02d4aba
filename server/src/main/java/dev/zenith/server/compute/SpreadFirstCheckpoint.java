package dev.zenith.server.compute;

import dev.zenith.pgexec.PgInstallation;
import dev.zenith.pgexec.Processes;
import dev.zenith.wal.control.ControlFile;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.OptionalLong;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * A new branch's first checkpoint spread out instead of written at once. Promoted at the end of its start, PostgreSQL
 * requests a checkpoint of every buffer the replay dirtied (~16k at scale 50) just as it takes connections; with the
 * computes' {@code checkpoint_completion_target} 0 those are written in one burst over the branch's first queries
 * (0.082 s vs 0.045 s to the first query, quiet). This start's zenith.conf spreads it over most of the checkpoint
 * interval instead; once PostgreSQL has completed it (pg_control's checkpoint is on the new timeline), the ordinary
 * settings are written back and the postmaster reloads them, so the branch's later anchors stay a moment after their
 * redo points. Until then a crash rebuilds the branch from its parent's anchor and replays the WAL since, as its
 * start did, plus what the branch wrote meanwhile (at most about a checkpoint interval).
 */
final class SpreadFirstCheckpoint {
    private static final Logger LOG = Logger.getLogger(SpreadFirstCheckpoint.class.getName());
    /** PostgreSQL's default: the writes spread over 90% of checkpoint_timeout. */
    private static final String SPREAD = "0.9";
    private static final long POLL_MS = 250;
    /** Past this the ordinary settings come back anyway (a reload hurries a checkpoint still running). */
    private static final long LIMIT_MS = TimeUnit.MINUTES.toMillis(3);

    private SpreadFirstCheckpoint() {
    }

    /** The settings of a new branch's start: {@code ordinary} with its first checkpoint spread. */
    static Map<String, String> forStart(Map<String, String> ordinary) {
        Map<String, String> s = new LinkedHashMap<>(ordinary);
        s.put("checkpoint_completion_target", SPREAD);
        return s;
    }

    /**
     * Once the PostgreSQL just started on new timeline {@code tli} has completed a checkpoint there (or after
     * {@link #LIMIT_MS}), writes {@code ordinary} into its zenith.conf and has it reload them; on a thread of its own,
     * which ends without a change if that postmaster stops meanwhile (its next start writes its own settings).
     */
    static void restoreAfterIt(PgInstallation pg, PostgresProcess process, int tli, Map<String, String> ordinary) {
        OptionalLong pid = process.runningPid();
        if (pid.isEmpty()) {
            return;
        }
        Thread t = new Thread(() -> {
            try {
                if (awaitCheckpoint(process, tli, pid.getAsLong())) {
                    process.writeSettings(ordinary);
                    pg.handOver(process.dataDir().resolve(PostgresProcess.ZENITH_CONF));
                    if (samePostmaster(process, pid.getAsLong())) {
                        Processes.signal(pid.getAsLong(), "HUP");
                    }
                }
            } catch (IOException | RuntimeException e) {
                LOG.log(Level.WARNING, "the ordinary checkpoint settings of " + process.dataDir() + " were not reloaded"
                        + " after its first checkpoint; its next start has them", e);
            }
        }, "zenith-first-checkpoint");
        t.setDaemon(true);
        t.start();
    }

    /** True once the checkpoint is on {@code tli} or the limit passed; false if the postmaster stopped. */
    private static boolean awaitCheckpoint(PostgresProcess process, int tli, long pid) throws IOException {
        Path control = process.dataDir().resolve("global/pg_control");
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(LIMIT_MS);
        while (System.nanoTime() < deadline) {
            if (!samePostmaster(process, pid)) {
                return false;
            }
            try {
                if (ControlFile.parse(Files.readAllBytes(control)).checkPointCopy().thisTimeLineId() == tli) {
                    return true;
                }
            } catch (IOException | RuntimeException e) {
                // being written: its CRC does not hold yet
            }
            PostgresProcess.sleep(POLL_MS);
        }
        return samePostmaster(process, pid);
    }

    private static boolean samePostmaster(PostgresProcess process, long pid) {
        OptionalLong now = process.runningPid();
        return now.isPresent() && now.getAsLong() == pid;
    }
}
