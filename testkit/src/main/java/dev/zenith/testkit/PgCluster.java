package dev.zenith.testkit;

import dev.zenith.pgexec.FileTrees;
import dev.zenith.pgexec.PgInstallation;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * A real, throw-away PostgreSQL 15 cluster for tests: initdb, start, psql, pgbench, stop.
 * Runs as the unprivileged user when the tests run as root. Lives under a fresh temp directory
 * that {@link #close()} removes.
 */
public final class PgCluster implements AutoCloseable {
    private final PgInstallation pg;
    private final Path root;
    private final Path dataDir;
    private final int port;
    private boolean running;

    private PgCluster(PgInstallation pg, Path root, int port) {
        this.pg = pg;
        this.root = root;
        this.dataDir = root.resolve("data");
        this.port = port;
    }

    /** A new cluster made with {@code initdb} (data checksums on, trust auth), not yet started. */
    public static PgCluster initdb(String... extraInitdbArgs) throws IOException {
        PgInstallation pg = PgInstallation.detect();
        Path root = Files.createTempDirectory(Path.of("/tmp"), "zenith-pg-");
        Files.setPosixFilePermissions(root, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
        pg.handOver(root);
        PgCluster c = new PgCluster(pg, root, freePort());
        List<String> args = new ArrayList<>(List.of("-D", c.dataDir.toString(), "-U", "postgres",
                "--data-checksums", "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C"));
        args.addAll(List.of(extraInitdbArgs));
        c.exec("initdb", args.toArray(String[]::new));
        return c;
    }

    /**
     * A port nothing listens on, for a server a test starts. It is drawn from 10000-19999, below the kernel's
     * ephemeral range (32768 and up): a port the kernel hands out can be taken by any outgoing connection's local end
     * between this check and the server's bind ("Address already in use" in CI); computes' ports start at 20000.
     * Ports handed out by this JVM are not handed out again.
     */
    public static int freePort() throws IOException {
        for (int attempt = 0; attempt < 500; attempt++) {
            int port = 10000 + java.util.concurrent.ThreadLocalRandom.current().nextInt(10000);
            if (!HANDED_OUT.add(port)) {
                continue;
            }
            try (ServerSocket s = new ServerSocket(port)) {
                return s.getLocalPort();
            } catch (IOException inUse) {
                // taken: draw again
            }
        }
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    private static final java.util.Set<Integer> HANDED_OUT = java.util.concurrent.ConcurrentHashMap.newKeySet();

    public PgInstallation installation() {
        return pg;
    }

    public Path dataDir() {
        return dataDir;
    }

    public Path walDir() {
        return dataDir.resolve("pg_wal");
    }

    /** A scratch directory the PostgreSQL user can write to, removed with the cluster. */
    public Path scratch(String name) throws IOException {
        Path p = root.resolve(name);
        Files.createDirectories(p);
        pg.handOver(p);
        return p;
    }

    public int port() {
        return port;
    }

    /** Appends settings to postgresql.conf (call before {@link #start()}). */
    public PgCluster configure(Map<String, String> settings) throws IOException {
        StringBuilder sb = new StringBuilder("\n");
        settings.forEach((k, v) -> sb.append(k).append(" = '").append(v.replace("'", "''")).append("'\n"));
        Files.writeString(dataDir.resolve("postgresql.conf"), sb.toString(), StandardCharsets.UTF_8,
                java.nio.file.StandardOpenOption.APPEND);
        return this;
    }

    /** Allows replication connections from loopback without a password. */
    public PgCluster allowReplication() throws IOException {
        Files.writeString(dataDir.resolve("pg_hba.conf"),
                "\nhost replication all 127.0.0.1/32 trust\nlocal replication all trust\n",
                StandardCharsets.UTF_8, java.nio.file.StandardOpenOption.APPEND);
        return this;
    }

    public PgCluster start() throws IOException {
        Map<String, String> s = new LinkedHashMap<>();
        s.put("port", Integer.toString(port));
        s.put("listen_addresses", "127.0.0.1");
        s.put("unix_socket_directories", root.toString());
        s.put("fsync", "off");
        String opts = s.entrySet().stream().map(e -> "-c " + e.getKey() + "=" + e.getValue())
                .reduce((a, b) -> a + " " + b).orElse("");
        exec("pg_ctl", "-D", dataDir.toString(), "-w", "-t", "60", "-l", root.resolve("postgres.log").toString(),
                "-o", opts, "start");
        running = true;
        return this;
    }

    public void stop() throws IOException {
        if (running) {
            exec("pg_ctl", "-D", dataDir.toString(), "-w", "-t", "60", "-m", "fast", "stop");
            running = false;
        }
    }

    /** Runs SQL through psql and returns its unaligned, tuples-only output. */
    public String psql(String sql) throws IOException {
        return psql("postgres", sql);
    }

    public String psql(String database, String sql) throws IOException {
        return exec("psql", "-X", "-h", "127.0.0.1", "-p", Integer.toString(port), "-U", "postgres", "-d", database,
                "-v", "ON_ERROR_STOP=1", "-At", "-c", sql).trim();
    }

    /** Runs pgbench against this cluster with the given arguments (host, port, user are added). */
    public String pgbench(String... args) throws IOException {
        List<String> a = new ArrayList<>(List.of("-h", "127.0.0.1", "-p", Integer.toString(port), "-U", "postgres"));
        a.addAll(List.of(args));
        a.add("postgres");
        return exec("pgbench", a.toArray(String[]::new));
    }

    /** Runs a PostgreSQL binary as the PostgreSQL user; fails with its output when it exits non-zero. */
    public String exec(String binary, String... args) throws IOException {
        return ProcessRunner.run(pg.command(binary, args), root);
    }

    public String log() throws IOException {
        Path log = root.resolve("postgres.log");
        return Files.exists(log) ? Files.readString(log) : "";
    }

    @Override
    public void close() {
        try {
            if (running) {
                exec("pg_ctl", "-D", dataDir.toString(), "-w", "-t", "60", "-m", "immediate", "stop");
                running = false;
            }
        } catch (IOException e) {
            // best effort: still remove the files
        }
        deleteTree(root);
    }

    /**
     * Deletes a directory tree (tests: failures become unchecked). A process that is still going away (a compute
     * orphaned by a daemon killed -9, a run's postmaster exiting) may add a file while the tree is deleted: a directory
     * found not empty is tried again, a few times.
     */
    public static void deleteTree(Path dir) {
        for (int attempt = 1; ; attempt++) {
            try {
                FileTrees.delete(dir);
                return;
            } catch (java.nio.file.DirectoryNotEmptyException e) {
                if (attempt == 10) {
                    throw new UncheckedIOException(e);
                }
                try {
                    Thread.sleep(200);
                } catch (InterruptedException interrupted) {
                    Thread.currentThread().interrupt();
                    throw new UncheckedIOException(e);
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    }

    /** Runs external commands, collecting output; a failure carries the output. */
    public static final class ProcessRunner {
        private ProcessRunner() {
        }

        public static String run(List<String> cmd, Path workDir) throws IOException {
            ProcessBuilder pb = new ProcessBuilder(cmd);
            if (workDir != null) {
                pb.directory(workDir.toFile());
            }
            return run(pb);
        }

        /** Runs a prepared command (its environment, its directory) the same way. */
        public static String run(ProcessBuilder pb) throws IOException {
            List<String> cmd = pb.command();
            Process p = pb.redirectErrorStream(true).start();
            byte[] out = p.getInputStream().readAllBytes();
            try {
                if (!p.waitFor(10, TimeUnit.MINUTES)) {
                    p.destroyForcibly();
                    throw new IOException("timed out: " + cmd);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException(e);
            }
            String text = new String(out, StandardCharsets.UTF_8);
            if (p.exitValue() != 0) {
                throw new IOException("command failed (exit " + p.exitValue() + "): " + cmd + "\n" + text);
            }
            return text;
        }
    }
}
