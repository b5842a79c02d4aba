package dev.zenith.server.compute;

import dev.zenith.pgexec.PgInstallation;
import dev.zenith.pgexec.PrivateFiles;
import dev.zenith.pgexec.Processes;

import dev.zenith.wal.control.ControlFile;
import dev.zenith.wal.control.DbState;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.concurrent.TimeUnit;

/**
 * One PostgreSQL data directory and the server process on it, driven through {@code initdb} and
 * {@code pg_ctl} (run as the unprivileged user when we are root). Blocking: call from worker threads.
 */
public final class PostgresProcess {
    /** Our settings live in this file, included from postgresql.conf, rewritten at every start. */
    static final String ZENITH_CONF = "zenith.conf";
    private static final String INCLUDE_LINE = "include_if_exists = '" + ZENITH_CONF + "'";

    private final PgInstallation pg;
    private final Path dataDir;
    private final Path logFile;

    public PostgresProcess(PgInstallation pg, Path dataDir, Path logFile) {
        this.pg = pg;
        this.dataDir = dataDir;
        this.logFile = logFile;
    }

    public Path dataDir() {
        return dataDir;
    }

    public Path logFile() {
        return logFile;
    }

    /**
     * A new cluster with data checksums (our images verify them) whose role postgres has {@code password}
     * (a SCRAM verifier in pg_authid, so every point of the storage's history has it). initdb reads it
     * from a 0600 file beside the data directory, removed at once: never a command line, never a log.
     */
    public void initdb(String password) throws IOException {
        Path pwfile = Files.createTempFile(dataDir.toAbsolutePath().getParent(), ".initdb-", ".pw",
                PosixFilePermissions.asFileAttribute(PrivateFiles.FILE));
        try {
            Files.writeString(pwfile, password + "\n", StandardCharsets.UTF_8);
            pg.handOver(pwfile);
            run(pg.command("initdb", "-D", dataDir.toString(), "-U", "postgres", "--data-checksums",
                    "--auth-local=peer", "--auth-host=scram-sha-256", "--pwfile=" + pwfile,
                    "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"), "initdb");
        } finally {
            Files.deleteIfExists(pwfile);
        }
        ensureIncludesZenithConf();
    }

    /**
     * Gives the role postgres (made when missing) {@code password} in a stopped data directory, with PostgreSQL's single-user
     * mode (no connection, so no login is needed): for clusters made before computes had passwords. The
     * statement goes in on stdin, is neither echoed nor logged (not even with an error), and its WAL is
     * streamed to the store when the server starts. No synchronous standby: none can connect.
     */
    public void setPasswordOffline(String password) throws IOException {
        setPasswordOffline(password, Map.of());
    }

    /**
     * As above, with more settings for the run ({@code -c NAME=VALUE}): a directory that needs recovery (a base
     * backup) is recovered by this same run first, as a server start would (its settings must allow that).
     */
    public void setPasswordOffline(String password, Map<String, String> settings) throws IOException {
        List<String> args = new ArrayList<>(List.of("--single", "-D", dataDir.toString(), "-c", "synchronous_standby_names=",
                "-c", "wal_keep_size=64MB", "-c", "log_statement=none", "-c", "log_min_error_statement=panic"));
        settings.forEach((k, v) -> args.addAll(List.of("-c", k + "=" + v)));
        args.add("template1");
        List<String> cmd = pg.command("postgres", args.toArray(String[]::new));
        Path output = Files.createTempFile(dataDir.toAbsolutePath().getParent(), ".single-", ".out",
                PosixFilePermissions.asFileAttribute(PrivateFiles.FILE));
        try {
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(output.toFile()).start();
            try (var in = p.getOutputStream()) {
                // An imported cluster may have been made with another superuser name: role postgres is made then.
                in.write(("DO $$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'postgres') THEN"
                        + " CREATE ROLE postgres SUPERUSER LOGIN; END IF; END$$\n"
                        + "ALTER ROLE postgres PASSWORD '" + password.replace("'", "''") + "'\n")
                        .getBytes(StandardCharsets.UTF_8));
            }
            boolean exited;
            try {
                exited = p.waitFor(10, TimeUnit.MINUTES);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                exited = false;
            }
            if (!exited) {
                p.destroyForcibly();
            }
            String out = Files.readString(output).trim();
            if (!exited || p.exitValue() != 0 || out.contains("ERROR") || out.contains("FATAL")) {
                throw new IOException("setting the password of role postgres in single-user mode failed"
                        + (exited ? "" : " (no exit within 10 minutes)") + ": " + out);
            }
        } finally {
            Files.deleteIfExists(output);
        }
    }

    /**
     * Writes pg_hba.conf at every start: SCRAM password logins over TCP, nothing else (computes listen on
     * 127.0.0.1 and have no Unix socket). Never trust: loopback is shared by every local user. A cluster
     * made before computes had passwords carried trust rules in its images; they go here.
     */
    public void writeAccessRules() throws IOException {
        Files.writeString(dataDir.resolve("pg_hba.conf"), """
                # Written by zenith at every start: password (SCRAM) logins over TCP only. Loopback is shared by
                # every local user, so no rule trusts anyone; the passwords are in ZENITH_HOME/pgpass.
                # TYPE  DATABASE     USER  ADDRESS        METHOD
                host    all          all   127.0.0.1/32   scram-sha-256
                host    all          all   ::1/128        scram-sha-256
                host    replication  all   127.0.0.1/32   scram-sha-256
                host    replication  all   ::1/128        scram-sha-256
                """, StandardCharsets.UTF_8);
    }

    /** Makes postgresql.conf include our settings file (the line travels with images). */
    public void ensureIncludesZenithConf() throws IOException {
        Path conf = dataDir.resolve("postgresql.conf");
        String text = Files.readString(conf);
        if (!text.contains(INCLUDE_LINE)) {
            Files.writeString(conf, text + "\n# Zenith local: settings managed by the daemon\n" + INCLUDE_LINE + "\n");
        }
    }

    /** Writes zenith.conf: our settings win over postgresql.conf because the include comes last. */
    public void writeSettings(Map<String, String> settings) throws IOException {
        Files.writeString(dataDir.resolve(ZENITH_CONF), settingsText(settings), StandardCharsets.UTF_8);
    }

    /** zenith.conf's text for {@code settings}. */
    static String settingsText(Map<String, String> settings) {
        StringBuilder sb = new StringBuilder("# Written by zenith at every start; edit conf/zenith.json instead.\n");
        settings.forEach((k, v) -> sb.append(k).append(" = '").append(v.replace("'", "''")).append("'\n"));
        return sb.toString();
    }

    /** Replaces zenith.conf of a directory already handed to the compute's user with {@code text}, handed over too. */
    void writeSettingsText(String text) throws IOException {
        Path conf = dataDir.resolve(ZENITH_CONF);
        Files.writeString(conf, text, StandardCharsets.UTF_8);
        pg.handOver(conf);
    }

    /**
     * Starts the server. {@code pinned} settings go on its command line, where they outrank
     * postgresql.auto.conf: ALTER SYSTEM cannot undo them (sessions can still SET what PostgreSQL lets them).
     */
    public void start(Map<String, String> pinned) throws IOException {
        Files.deleteIfExists(dataDir.resolve("postmaster.pid"));
        List<String> args = new ArrayList<>(List.of("-D", dataDir.toString(), "-l", logFile.toString(), "-w", "-t", "600"));
        if (!pinned.isEmpty()) {
            StringBuilder options = new StringBuilder(); // pg_ctl hands them to /bin/sh: each one single-quoted
            pinned.forEach((k, v) -> options.append(options.isEmpty() ? "" : " ").append("-c '")
                    .append((k + "=" + v).replace("'", "'\\''")).append("'"));
            args.addAll(List.of("-o", options.toString()));
        }
        args.add("start");
        run(pg.command("pg_ctl", args.toArray(String[]::new)), "pg_ctl start");
    }

    /**
     * Fast shutdown: a shutdown checkpoint, every walsender drains to its standby first. A postmaster that
     * has not stopped within {@link #fastStopSeconds()} (hung, or stopped with SIGSTOP) is stopped as a
     * crash would stop it: its directory is then not clean, and its next start rebuilds it from the store,
     * which has every acknowledged commit.
     */
    public void stop() throws IOException {
        OptionalLong running = pidFromPidFile();
        if (running.isPresent()) {
            try {
                run(pg.command("pg_ctl", "-D", dataDir.toString(), "-w", "-t", Long.toString(fastStopSeconds()),
                        "-m", "fast", "stop"), "pg_ctl stop");
                return;
            } catch (IOException e) {
                if (!Processes.isRunning(running.getAsLong())) {
                    return; // it did stop, just late
                }
            }
            stopBySignals(running.getAsLong(), List.of("QUIT", "KILL"));
            return;
        }
        OptionalLong pid = pidFromCommandLine();
        if (pid.isPresent()) {
            // Its directory was deleted under it, so pg_ctl cannot find it: the same fast shutdown by its
            // signal (it cannot write a shutdown checkpoint any more and ends in a PANIC), then harder ones.
            stopBySignals(pid.getAsLong(), List.of("INT", "QUIT", "KILL"));
        }
    }

    /** How long a fast shutdown may take (ours write no fsyncs, so minutes mean it is stuck). */
    static long fastStopSeconds() {
        return Long.getLong("zenith.computeFastStopSeconds", 120);
    }

    private void stopBySignals(long pid, List<String> signals) throws IOException {
        try {
            for (String signal : signals) {
                Processes.signal(pid, signal);
                if (Processes.awaitExit(pid, Math.min(60, fastStopSeconds()) * 1000)) {
                    return;
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while stopping the postmaster " + pid);
        }
        throw new IOException("the postmaster " + pid + " of " + dataDir + " did not exit");
    }

    /** Ends a standby's recovery: it becomes a primary on a new PostgreSQL timeline. Waits for it. */
    public void promote() throws IOException {
        run(pg.command("pg_ctl", "-D", dataDir.toString(), "-w", "-t", "600", "promote"), "pg_ctl promote");
    }

    /**
     * After a start in archive recovery (pg_ctl returns once it is under way): waits until pg_control says
     * "in production" again and the postmaster takes connections, and returns the PostgreSQL timeline
     * recovery ended on. A promotion's end-of-recovery record leaves the previous checkpoint (on the old
     * timeline) in pg_control until the checkpoint that follows it, but sets minRecoveryPoint's timeline to the
     * new one (which that checkpoint resets to 0): timelines only grow, so the greater of the two.
     */
    public int awaitEndOfRecovery(java.time.Duration timeout) throws IOException {
        Path controlPath = dataDir.resolve("global/pg_control");
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            ControlFile control;
            try {
                control = ControlFile.parse(Files.readAllBytes(controlPath));
            } catch (IOException | RuntimeException e) {
                control = null; // being written: its CRC does not hold yet
            }
            // pg_control says "in production" a moment before the postmaster takes connections: wait for both
            if (control != null && control.state() == DbState.IN_PRODUCTION && postmasterReady()) {
                return Math.max(control.checkPointCopy().thisTimeLineId(), control.minRecoveryPointTimeline());
            }
            if (runningPid().isEmpty() || System.nanoTime() > deadline) {
                throw new IOException("recovery did not end: " + logTail(20));
            }
            sleep(5); // a branch's first query waits for this: two small file reads and the pid's check, often
        }
    }

    static void sleep(long ms) throws IOException {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted");
        }
    }

    /**
     * The postmaster's pid when one is alive on this directory: from its pid file, else (the directory
     * deleted under a running server) by the command line pg_ctl started it with.
     */
    public OptionalLong runningPid() {
        OptionalLong fromPidFile = pidFromPidFile();
        return fromPidFile.isPresent() ? fromPidFile : pidFromCommandLine();
    }

    private OptionalLong pidFromCommandLine() {
        return Processes.findByCommandLine(args -> args.size() >= 3
                && args.get(0).endsWith("/postgres") && args.get(1).equals("-D") && args.get(2).equals(dataDir.toString()));
    }

    private OptionalLong pidFromPidFile() {
        Path pidFile = dataDir.resolve("postmaster.pid");
        try {
            if (!Files.exists(pidFile)) {
                return OptionalLong.empty();
            }
            List<String> lines = Files.readAllLines(pidFile);
            if (lines.isEmpty()) {
                return OptionalLong.empty();
            }
            long pid = Long.parseLong(lines.get(0).trim());
            if (!Processes.isRunning(pid)) {
                return OptionalLong.empty(); // also when it exited and init has not reaped it (not our child)
            }
            return ProcessHandle.of(pid)
                    .filter(h -> h.info().command().map(c -> c.endsWith("postgres")).orElse(true))
                    .map(h -> OptionalLong.of(pid)).orElse(OptionalLong.empty());
        } catch (IOException | NumberFormatException e) {
            return OptionalLong.empty();
        }
    }

    /**
     * Whether the postmaster accepts connections: the status line of postmaster.pid (its 8th) says "ready",
     * as pg_ctl -w checks.
     */
    private boolean postmasterReady() {
        try {
            List<String> lines = Files.readAllLines(dataDir.resolve("postmaster.pid"));
            return lines.size() >= 8 && lines.get(7).trim().equals("ready");
        } catch (IOException e) {
            return false;
        }
    }

    /** The last lines of the PostgreSQL log, for error messages. */
    public String logTail(int lines) {
        try {
            if (!Files.exists(logFile)) {
                return "";
            }
            List<String> all = Files.readAllLines(logFile);
            return String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size()));
        } catch (IOException e) {
            return "";
        }
    }

    private void run(List<String> cmd, String what) throws IOException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        byte[] out = p.getInputStream().readAllBytes();
        try {
            if (!p.waitFor(15, TimeUnit.MINUTES)) {
                p.destroyForcibly();
                throw new IOException(what + " timed out");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException(what + " interrupted");
        }
        if (p.exitValue() != 0) {
            String tail = logTail(20);
            throw new IOException(what + " failed (exit " + p.exitValue() + "): "
                    + new String(out, StandardCharsets.UTF_8).trim() + (tail.isEmpty() ? "" : "\nPostgreSQL log:\n" + tail));
        }
    }
}
