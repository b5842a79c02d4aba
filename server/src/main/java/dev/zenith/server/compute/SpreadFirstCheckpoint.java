package dev.zenith.server.compute;

import dev.zenith.pgexec.Processes;
import dev.zenith.wal.control.ControlFile;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.OptionalInt;
import java.util.OptionalLong;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * A new branch's first checkpoint spread out instead of written at once. Promoted at the end of its start, PostgreSQL
 * requests a checkpoint of every buffer the replay dirtied (~16k at scale 50) just as it takes connections; with the
 * computes' {@code checkpoint_completion_target} 0 those are written in one burst over the branch's first queries
 * (0.082 s vs 0.045 s to the first query, quiet). This start's zenith.conf spreads it over most of the checkpoint
 * interval instead, the ordinary settings kept beside it ({@link #PENDING}); once PostgreSQL has completed it
 * (pg_control's checkpoint is on the new timeline), they are written back and the postmaster reloads them, so the
 * branch's later anchors stay a moment after their redo points. A daemon killed meanwhile does this when it takes the
 * compute back. Until then a crash rebuilds the branch from its parent's anchor and replays the WAL since, as its
 * start did, plus what the branch wrote meanwhile (at most about a checkpoint interval).
 */
final class SpreadFirstCheckpoint {
    private static final Logger LOG = Logger.getLogger(SpreadFirstCheckpoint.class.getName());
    /** In the data directory while the first checkpoint is pending: its first line names the timeline, then zenith.conf. */
    static final String PENDING = "zenith.conf.after-first-checkpoint";
    private static final String PENDING_HEADER = "# back in " + PostgresProcess.ZENITH_CONF
            + " after the first checkpoint on timeline ";
    /** PostgreSQL's default: the writes spread over 90% of checkpoint_timeout. */
    private static final String SPREAD = "0.9";
    private static final long POLL_MS = 250;
    /** Past this the ordinary settings come back anyway (a reload hurries a checkpoint still running). */
    private static final long LIMIT_MS = TimeUnit.MINUTES.toMillis(3);
    /** One thread polls every start's pg_control (a small file read each), however many branches start. */
    private static final ScheduledExecutorService WAITS = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "zenith-first-checkpoints");
        t.setDaemon(true);
        return t;
    });

    private SpreadFirstCheckpoint() {
    }

    /** The settings of a new branch's start: {@code ordinary} with its first checkpoint spread. */
    static Map<String, String> forStart(Map<String, String> ordinary) {
        Map<String, String> s = new LinkedHashMap<>(ordinary);
        s.put("checkpoint_completion_target", SPREAD);
        return s;
    }

    /**
     * A start's zenith.conf: on a new timeline {@code newTli}, {@link #forStart} with the ordinary settings kept in
     * {@link #PENDING} until {@link #restoreAfterIt}; else the ordinary settings (nothing pending).
     */
    static void writeSettings(PostgresProcess process, Map<String, String> ordinary, OptionalInt newTli)
            throws IOException {
        Path pending = process.dataDir().resolve(PENDING);
        if (newTli.isEmpty()) {
            Files.deleteIfExists(pending);
            process.writeSettings(ordinary);
            return;
        }
        Files.writeString(pending, PENDING_HEADER + newTli.getAsInt() + "\n" + PostgresProcess.settingsText(ordinary),
                StandardCharsets.UTF_8);
        process.writeSettings(forStart(ordinary));
    }

    /**
     * If the directory's first checkpoint is pending ({@link #PENDING}): once the PostgreSQL running there has completed
     * a checkpoint on that timeline (or after {@link #LIMIT_MS}), writes the ordinary settings back into its zenith.conf
     * and has it reload them, polled on one shared thread; ends without a change if that postmaster stops meanwhile (its
     * next start writes its own settings). At a new branch's start, and when a restarted daemon takes a pg back.
     */
    static void restoreAfterIt(PostgresProcess process) {
        Path pending = process.dataDir().resolve(PENDING);
        OptionalLong pid = process.runningPid();
        if (pid.isEmpty() || !Files.exists(pending)) {
            return;
        }
        try {
            String text = Files.readString(pending, StandardCharsets.UTF_8);
            int tli = Integer.parseInt(text.substring(PENDING_HEADER.length(), text.indexOf('\n')));
            new Wait(process, pid.getAsLong(), tli, text.substring(text.indexOf('\n') + 1)).start();
        } catch (IOException | RuntimeException e) {
            LOG.log(Level.WARNING, "the ordinary checkpoint settings of " + process.dataDir() + " are not restored after"
                    + " its first checkpoint; its next start has them", e);
        }
    }

    /** One postmaster's first checkpoint awaited: a poll every {@link #POLL_MS} on {@link #WAITS}, each scheduling the next. */
    private static final class Wait implements Runnable {
        private final PostgresProcess process;
        private final long pid;
        private final int tli;
        private final String ordinary;
        private final long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(LIMIT_MS);

        Wait(PostgresProcess process, long pid, int tli, String ordinary) {
            this.process = process;
            this.pid = pid;
            this.tli = tli;
            this.ordinary = ordinary;
        }

        void start() {
            WAITS.execute(this);
        }

        @Override
        public void run() {
            try {
                if (!samePostmaster(process, pid)) {
                    return;
                }
                if (!checkpointOnTimeline() && System.nanoTime() < deadline) {
                    WAITS.schedule(this, POLL_MS, TimeUnit.MILLISECONDS);
                    return;
                }
                process.writeSettingsText(ordinary);
                Files.deleteIfExists(process.dataDir().resolve(PENDING));
                if (samePostmaster(process, pid)) {
                    Processes.signal(pid, "HUP");
                }
            } catch (IOException | RuntimeException e) {
                LOG.log(Level.WARNING, "the ordinary checkpoint settings of " + process.dataDir() + " were not reloaded"
                        + " after its first checkpoint; its next start has them", e);
            }
        }

        private boolean checkpointOnTimeline() {
            try {
                byte[] control = Files.readAllBytes(process.dataDir().resolve("global/pg_control"));
                return ControlFile.parse(control).checkPointCopy().thisTimeLineId() == tli;
            } catch (IOException | RuntimeException e) {
                return false; // being written: its CRC does not hold yet
            }
        }
    }

    private static boolean samePostmaster(PostgresProcess process, long pid) {
        OptionalLong now = process.runningPid();
        return now.isPresent() && now.getAsLong() == pid;
    }
}
