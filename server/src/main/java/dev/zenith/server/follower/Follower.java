package dev.zenith.server.follower;

import dev.zenith.pgexec.FileTrees;
import dev.zenith.pgexec.PgInstallation;
import dev.zenith.server.compute.PostgresProcess;
import dev.zenith.storage.Store;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.wal.control.ControlFile;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * One follower: a stock PostgreSQL standby of one timeline, streaming its WAL from our own replication port, that
 * never answers a query ({@code hot_standby} off: nothing sets hint bits) and keeps almost nothing in its buffers, so
 * the blocks replay changes reach its relation files soon after. Its directory ({@code data}, its log, its Unix
 * socket: it has no TCP listener) is its own, removed when it stops. Blocking; files and a process.
 */
final class Follower {
    /** The Unix socket's port number: the socket lives in the follower's own directory, so it never meets another. */
    private static final int SOCKET_PORT = 5432;
    /** sun_path holds 108 bytes with its terminating zero. */
    private static final int MAX_SOCKET_PATH = 100;
    private static final java.util.Set<PosixFilePermission> PRIVATE = PosixFilePermissions.fromString("rwx------");

    final TimelineId timeline;
    private final Path root;
    private final Path socketDir;
    private final PostgresProcess process;
    final FollowerFiles files;

    private Follower(TimelineId timeline, Path root, Path socketDir, PostgresProcess process) {
        this.timeline = timeline;
        this.root = root;
        this.socketDir = socketDir;
        this.process = process;
        this.files = new FollowerFiles(process.dataDir());
    }

    /**
     * Writes the follower's directory from the store (the timeline's newest materialized anchor plus the WAL since, as
     * a replica's start) and starts PostgreSQL on it; returns once it replays. {@code primaryConninfo}: our replication
     * port for this timeline, with the password (written into its 0700 directory, never a command line).
     */
    static Follower start(PgInstallation pg, Path root, Store store, TimelineId timeline, DirectoryBuilder builder,
                          FollowerSettings settings, String primaryConninfo) throws IOException {
        FileTrees.delete(root);
        Files.createDirectories(root.getParent());
        Files.createDirectory(root, PosixFilePermissions.asFileAttribute(PRIVATE));
        Path socketDir = root.resolve(".s.PGSQL." + SOCKET_PORT).toString().length() <= MAX_SOCKET_PATH ? root
                : Files.createTempDirectory(Path.of("/tmp"), "zenith-follower-", PosixFilePermissions.asFileAttribute(PRIVATE));
        PostgresProcess process = new PostgresProcess(pg, root.resolve("data"), root.resolve("postgres.log"));
        Follower f = new Follower(timeline, root, socketDir, process);
        try {
            builder.build(store, timeline, process);
            ControlFile control = ControlFile.parse(Files.readAllBytes(process.dataDir().resolve("global/pg_control")));
            if (control.dataChecksumVersion() == 0) {
                // without checksums a page read while PostgreSQL writes it could not be told from a whole one
                throw new IOException("the cluster has no data checksums: its pages cannot be checked, so no follower");
            }
            process.ensureIncludesZenithConf();
            Map<String, String> pinned = new LinkedHashMap<>();
            pinned.put("hot_standby", "off");
            pinned.put("shared_buffers", settings.sharedBuffers());
            pinned.put("listen_addresses", "");
            pinned.put("port", Integer.toString(SOCKET_PORT));
            pinned.put("unix_socket_directories", socketDir.toString());
            Map<String, String> conf = new LinkedHashMap<>(pinned);
            conf.put("cluster_name", "zenith-follower");
            conf.put("primary_conninfo", primaryConninfo + " application_name=zenith_follower");
            conf.put("fsync", "off"); // its files are a cache of the store: rebuilt, never recovered
            conf.put("logging_collector", "off");
            conf.put("max_wal_senders", "0");
            conf.put("max_replication_slots", "0");
            conf.put("autovacuum", "off");
            // replay of prepared transactions needs as many slots as the primary had (pg_control says)
            conf.put("max_prepared_transactions", Integer.toString(control.maxPreparedXacts()));
            conf.put("max_locks_per_transaction", Integer.toString(Math.max(64, control.maxLocksPerXact())));
            conf.put("max_connections", Integer.toString(Math.max(10, control.maxConnections())));
            conf.put("max_worker_processes", Integer.toString(Math.max(8, control.maxWorkerProcesses())));
            process.writeSettings(conf);
            process.writeAccessRules();
            pg.handOver(root);
            if (socketDir != root) {
                pg.handOver(socketDir);
            }
            process.start(pinned);
        } catch (IOException | RuntimeException e) {
            try {
                f.stop();
            } catch (IOException | RuntimeException s) {
                e.addSuppressed(s);
            }
            throw e;
        }
        return f;
    }

    /** Whether its postmaster is alive. */
    boolean alive() {
        return process.runningPid().isPresent();
    }

    String logTail() {
        return process.logTail(10);
    }

    /** Stops PostgreSQL (fast) and removes the directory. */
    void stop() throws IOException {
        try {
            process.stop();
        } finally {
            FileTrees.delete(root);
            if (socketDir != root) {
                FileTrees.delete(socketDir);
            }
        }
    }

    /** Stops whatever a killed daemon left running in {@code root} and removes it. */
    static void removeLeftover(PgInstallation pg, Path root) throws IOException {
        new PostgresProcess(pg, root.resolve("data"), root.resolve("postgres.log")).stop();
        FileTrees.delete(root);
    }
}
