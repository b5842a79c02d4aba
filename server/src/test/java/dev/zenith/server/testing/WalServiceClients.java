package dev.zenith.server.testing;

import dev.zenith.testkit.PgCluster;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * PostgreSQL's client tools pointed at a daemon's WAL service port as its replication user, with the
 * owner's password file (ZENITH_HOME/pgpass, which has the replication port's login).
 */
public final class WalServiceClients {
    public static final String USER = "zenith";

    private final DaemonFixture d;

    public WalServiceClients(DaemonFixture d) {
        this.d = d;
    }

    /** A client tool run as ourselves (clients need not be the postgres user), connected to the WAL service. */
    public ProcessBuilder tool(String binary, String... args) {
        List<String> cmd = new ArrayList<>(List.of(d.pg.bin(binary).toString(), "-h", "127.0.0.1",
                "-p", Integer.toString(d.pgPort), "-U", USER, "-w"));
        cmd.addAll(List.of(args));
        return d.withCredentials(new ProcessBuilder(cmd).directory(Path.of("/tmp").toFile()), d.pgPort);
    }

    /** The replication password the daemon generated at its first start (ZENITH_HOME/replication-password). */
    public String password() throws IOException {
        return java.nio.file.Files.readAllLines(d.home.resolve("replication-password")).get(0).trim();
    }

    /** Runs a tool against the WAL service to completion; returns stdout+stderr, or throws with them when it fails. */
    public String run(String binary, String... args) throws IOException, InterruptedException {
        return finish(binary, tool(binary, args));
    }

    /** Runs a tool that needs no connection (pg_verifybackup), as ourselves. */
    public String offline(String binary, String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of(d.pg.bin(binary).toString()));
        cmd.addAll(List.of(args));
        return finish(binary, new ProcessBuilder(cmd).directory(Path.of("/tmp").toFile()));
    }

    private static String finish(String binary, ProcessBuilder pb) throws IOException, InterruptedException {
        Process p = pb.redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        int rc = p.waitFor();
        if (rc != 0) {
            throw new IOException(binary + " exited " + rc + ": " + out);
        }
        return out;
    }

    /** psql on a replication connection ({@code extra} adds conninfo, e.g. options); exit code and output. */
    public Result psql(String extra, String command) throws IOException, InterruptedException {
        String conninfo = "host=127.0.0.1 port=" + d.pgPort + " user=" + USER + " dbname=replication replication=true "
                + extra;
        ProcessBuilder pb = d.withCredentials(new ProcessBuilder(d.pg.bin("psql").toString(), "-X", "-w", "-At", "-d",
                conninfo, "-c", command), d.pgPort).directory(Path.of("/tmp").toFile()).redirectErrorStream(true);
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes()).trim();
        return new Result(p.waitFor(), out);
    }

    public record Result(int exitCode, String output) {
    }

    /** Runs a PostgreSQL binary as the user PostgreSQL runs as (servers refuse root). */
    public String asPostgres(String binary, String... args) throws IOException {
        return PgCluster.ProcessRunner.run(d.pg.command(binary, args), Path.of("/tmp"));
    }

    /**
     * Starts PostgreSQL 15 on a data directory (a backup, say) with its defaults on {@code port}, logging
     * to {@code log}; stop it with {@link #stopServer}.
     */
    public void startServer(Path dataDir, int port, Path log) throws IOException {
        d.pg.handOver(dataDir);
        java.nio.file.Files.writeString(log, "");
        d.pg.handOver(log);
        asPostgres("pg_ctl", "-D", dataDir.toString(), "-l", log.toString(), "-w", "-t", "120", "-o",
                "-p " + port + " -c listen_addresses=127.0.0.1 -c unix_socket_directories=/tmp", "start");
    }

    public void stopServer(Path dataDir) throws IOException {
        asPostgres("pg_ctl", "-D", dataDir.toString(), "-m", "immediate", "-w", "stop");
    }

    /** What a PostgreSQL started on {@code dataDir} answers: {@code ask} gets its port; it is stopped after. */
    public <T> T onServer(Path dataDir, Path log, PortQuestion<T> ask) throws Exception {
        int port = dev.zenith.testkit.PgCluster.freePort();
        startServer(dataDir, port, log);
        try {
            return ask.ask(port);
        } finally {
            stopServer(dataDir);
        }
    }

    /** A question to a server on a port. */
    public interface PortQuestion<T> {
        T ask(int port) throws Exception;
    }

    /** BASE_BACKUP of pg {@code pg} through the daemon's port into {@code backup} (WAL streamed), pg_verifybackup checked. */
    public void baseBackup(String pg, Path backup) throws Exception {
        run("pg_basebackup", "-d", "host=127.0.0.1 port=" + d.pgPort + " user=zenith options='-c zenith.pg=" + pg + "'",
                "-D", backup.toString(), "-X", "stream", "-c", "fast");
        String verified = offline("pg_verifybackup", backup.toString());
        if (!verified.contains("successfully verified")) {
            throw new AssertionError("pg_verifybackup: " + verified);
        }
    }

    /** Waits (two minutes at most) until a standby on {@code port} has replayed WAL up to {@code lsn}. */
    public void awaitReplay(int port, String lsn, Path log) throws Exception {
        long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.MINUTES.toNanos(2);
        while (!d.psql(port, "SELECT coalesce(pg_last_wal_replay_lsn() >= '" + lsn + "', false)").equals("t")) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("the standby did not replay to " + lsn + ": " + java.nio.file.Files.readString(log));
            }
            Thread.sleep(100);
        }
    }

    /** pg_basebackup -X stream into {@code dir}, made a hot standby of the WAL service ({@code options} as below). */
    public void baseBackupAsStandby(Path dir, String options) throws Exception {
        run("pg_basebackup", "-D", dir.toString(), "-X", "stream");
        makeStandby(dir, options);
    }

    /** Makes a backup a hot standby streaming from the WAL service ({@code options}: its startup options, or null). */
    public void makeStandby(Path backup, String options) throws IOException {
        String password = password();
        java.nio.file.Files.writeString(backup.resolve("standby.signal"), "");
        java.nio.file.Files.writeString(backup.resolve("postgresql.auto.conf"), "primary_conninfo = 'host=127.0.0.1 port="
                + d.pgPort + " user=" + USER + " password=" + password + " application_name=standby1"
                + (options == null ? "" : " options=''" + options + "''") + "'\nhot_standby = on\n",
                java.nio.file.StandardOpenOption.APPEND);
    }
}
