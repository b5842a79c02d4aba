package dev.zenith.server.redo;

import dev.zenith.pgexec.PgInstallation;
import dev.zenith.pgexec.Processes;
import dev.zenith.wal.control.ControlFile;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.control.DbState;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.concurrent.TimeUnit;

/**
 * A stock {@code postgres} doing crash recovery in a scratch data directory and nothing else: no
 * TCP (a Unix socket in a private directory, since the postmaster needs one socket), no
 * autovacuum, no logical replication launcher, no WAL senders: after recovery no process reads or
 * writes a page, so the files hold exactly what replay produced once the end-of-recovery checkpoint
 * (or a fast shutdown) has written them out. Blocking; call from a worker.
 */
final class RecoveryServer {
    private final PgInstallation pg;
    private final Path dataDir;
    private final Path logFile;
    private final Duration timeout;
    /** How often {@link #start} looks whether recovery has ended. */
    private static final long POLL_MILLIS = 2;
    /** The postmaster (through setpriv or runuser when we are root), once started. */
    private Process postmaster;

    RecoveryServer(PgInstallation pg, Path dataDir, Path logFile, Duration timeout) {
        this.pg = pg;
        this.dataDir = dataDir;
        this.logFile = logFile;
        this.timeout = timeout;
    }

    /**
     * postgresql.conf for a run: values pg_control records where a lower one could stop recovery
     * (prepared transactions and their locks), the rest fixed.
     */
    static Map<String, String> settings(ControlFile control, Path socketDir, String sharedBuffers) {
        Map<String, String> s = new LinkedHashMap<>();
        s.put("listen_addresses", "");
        s.put("unix_socket_directories", socketDir.toString());
        s.put("port", "5432");
        s.put("max_connections", Integer.toString(Math.max(10, control.maxConnections())));
        s.put("max_worker_processes", Integer.toString(Math.max(8, control.maxWorkerProcesses())));
        s.put("max_prepared_transactions", Integer.toString(control.maxPreparedXacts()));
        s.put("max_locks_per_transaction", Integer.toString(Math.max(64, control.maxLocksPerXact())));
        s.put("max_wal_senders", "0");
        s.put("max_replication_slots", "0");
        s.put("wal_level", control.walLevel() == 2 ? "logical" : "replica");
        s.put("track_commit_timestamp", control.trackCommitTimestamp() ? "on" : "off");
        s.put("autovacuum", "off");
        s.put("max_logical_replication_workers", "0");
        s.put("archive_mode", "off");
        // Not "off": with hot_standby off the postmaster reports "standby" in postmaster.pid as soon as
        // recovery starts, and a start waiting for its status (as pg_ctl -w) returns before replay has ended.
        // On, crash recovery (which is never hot standby) reports "ready" only once it has ended.
        s.put("hot_standby", "on");
        s.put("fsync", "off");
        s.put("full_page_writes", "off");
        // the end-of-recovery checkpoint makes the next WAL segment when the WAL ends past 3/4 of one: not 16 MiB
        // of zeros written per such run (nothing ever writes WAL in it)
        s.put("wal_init_zero", "off");
        s.put("restart_after_crash", "off");
        s.put("allow_in_place_tablespaces", "on");
        s.put("shared_buffers", sharedBuffers);
        s.put("logging_collector", "off");
        s.put("jit", "off");
        return s;
    }

    static void writeConfiguration(Path dataDir, Map<String, String> settings) throws IOException {
        StringBuilder sb = new StringBuilder("# a zenith redo run: crash recovery only\n");
        settings.forEach((k, v) -> sb.append(k).append(" = '").append(v.replace("'", "''")).append("'\n"));
        Files.writeString(dataDir.resolve("postgresql.conf"), sb.toString(), StandardCharsets.UTF_8);
        Files.writeString(dataDir.resolve("pg_hba.conf"), "local all all reject\n", StandardCharsets.UTF_8);
        Files.writeString(dataDir.resolve("pg_ident.conf"), "", StandardCharsets.UTF_8);
    }

    /**
     * Starts the server: returns once crash recovery has ended and it would accept connections. The postmaster is
     * this process's child, not pg_ctl's: {@code pg_ctl -w} looks every 100 ms, so each run waited about 50 ms more
     * than its recovery took at its start and again at its stop (a latest read under writes waits for whole runs).
     */
    void start() throws IOException {
        postmaster = new ProcessBuilder(pg.serverCommand("postgres", "-D", dataDir.toString())).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(logFile.toFile()))
                .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null"))).start();
        long deadline = System.nanoTime() + timeout.toNanos();
        try {
            while (!"ready".equals(pidFileStatus())) {
                if (!postmaster.isAlive()) {
                    stopNow();
                    throw new RedoException("PostgreSQL's crash recovery failed: postgres exited with "
                            + postmaster.exitValue() + logTail());
                }
                if (System.nanoTime() - deadline > 0) {
                    stopNow();
                    throw new RedoException("PostgreSQL's crash recovery did not end within " + timeout.toSeconds() + " s"
                            + logTail());
                }
                Thread.sleep(POLL_MILLIS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            stopNow();
            throw new IOException("interrupted while PostgreSQL recovered");
        }
    }

    /** Line 8 of postmaster.pid: starting, standby, ready or stopping ("" before the postmaster wrote it). */
    private String pidFileStatus() throws IOException {
        List<String> lines;
        try {
            lines = Files.readAllLines(dataDir.resolve("postmaster.pid"));
        } catch (java.nio.file.NoSuchFileException e) {
            return "";
        }
        return lines.size() >= 8 ? lines.get(7).trim() : "";
    }

    /**
     * After {@link #start}, for a run whose results are read from its files: makes sure the checkpoint crash recovery
     * ends with is done (pg_control in production, its checkpoint at or after {@code target}, the end of the replayed
     * WAL), then asks for an immediate shutdown without waiting for it (removing the run waits:
     * {@link ScratchArea#remove}). That checkpoint wrote
     * every buffer and SLRU page replay dirtied, and StartupXLOG dirties none after it (SLRU trimming and prepared
     * transactions come before it); "ready" comes only after it, and then no process changes a page (no connection,
     * no autovacuum). So the files already hold what a fast shutdown leaves, whose shutdown checkpoint writes nothing
     * more ("wrote 0 buffers") but costs the checkpointer's run and every process's orderly exit.
     */
    void endRecovered(Lsn target) throws IOException {
        ControlFile control = ControlFile.parse(Files.readAllBytes(dataDir.resolve("global/pg_control")));
        if (control.state() != DbState.IN_PRODUCTION || control.checkPoint().isBefore(target)) {
            stopNow();
            throw new RedoException("after crash recovery to " + target + " the run's pg_control says '" + control.state()
                    + "' with its checkpoint at " + control.checkPoint() + ": the end-of-recovery checkpoint is not done"
                    + logTail());
        }
        OptionalLong pid = postmasterPid(dataDir);
        if (pid.isPresent()) {
            Processes.signal(pid.getAsLong(), "QUIT");
        }
    }

    /** Fast shutdown: every page replay changed is written, then a shutdown checkpoint. */
    void stop() throws IOException {
        OptionalLong pid = postmasterPid(dataDir);
        try {
            if (pid.isPresent()) {
                Processes.signal(pid.getAsLong(), "INT");
            }
            if (!postmaster.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                stopNow();
                throw new RedoException("PostgreSQL did not shut down after recovery within " + timeout.toSeconds() + " s"
                        + logTail());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            stopNow();
            throw new IOException("interrupted while PostgreSQL shut down");
        }
        ControlFile control = ControlFile.parse(Files.readAllBytes(dataDir.resolve("global/pg_control")));
        if (control.state() != DbState.SHUTDOWNED) {
            throw new RedoException("after its shutdown the run's pg_control says '" + control.state() + "'" + logTail());
        }
    }

    /** Stops whatever runs on the directory, without writing anything out (its results are thrown away). */
    void stopNow() {
        stopPostmaster(dataDir);
        if (postmaster != null) {
            postmaster.destroyForcibly();
        }
    }

    /**
     * Stops a postmaster left on {@code dataDir} (a run interrupted by a crash of ours): immediate
     * shutdown, then SIGKILL. Nothing it would write matters any more.
     */
    static void stopPostmaster(Path dataDir) {
        OptionalLong pid = postmasterPid(dataDir);
        if (pid.isEmpty()) {
            return;
        }
        try {
            for (String signal : List.of("QUIT", "KILL")) {
                Processes.signal(pid.getAsLong(), signal);
                if (Processes.awaitExit(pid.getAsLong(), 10_000)) {
                    return;
                }
            }
        } catch (IOException e) {
            // exited meanwhile (kill fails on a gone pid)
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** The pid in postmaster.pid when that process runs postgres on this very directory. */
    static OptionalLong postmasterPid(Path dataDir) {
        try {
            Path pidFile = dataDir.resolve("postmaster.pid");
            if (!Files.exists(pidFile)) {
                return OptionalLong.empty();
            }
            List<String> lines = Files.readAllLines(pidFile);
            if (lines.size() < 2) {
                return OptionalLong.empty();
            }
            long pid = Long.parseLong(lines.get(0).trim());
            boolean ours = Processes.isRunning(pid) && Files.isSameFile(Path.of(lines.get(1).trim()), dataDir);
            return ours ? OptionalLong.of(pid) : OptionalLong.empty();
        } catch (IOException | NumberFormatException e) {
            return OptionalLong.empty();
        }
    }

    private String logTail() {
        try {
            if (!Files.exists(logFile)) {
                return "";
            }
            List<String> lines = Files.readAllLines(logFile);
            return "\nPostgreSQL log:\n" + String.join("\n", lines.subList(Math.max(0, lines.size() - 15), lines.size()));
        } catch (IOException e) {
            return "";
        }
    }
}
