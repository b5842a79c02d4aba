package dev.zenith.server.importer;

import dev.zenith.pgexec.PgInstallation;
import dev.zenith.server.compute.PostgresProcess;
import dev.zenith.server.domain.InvalidRequestException;
import dev.zenith.server.jobs.Progress;
import dev.zenith.wal.control.ControlFile;
import dev.zenith.wal.control.DbState;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Turns whatever an import staged (a base backup, a copied data directory) into what a storage's first image
 * must be: a PostgreSQL 15 cluster shut down cleanly, with the storage's password for role postgres. A
 * backup (or a cluster that crashed) is recovered by PostgreSQL itself, in single-user mode (no connections);
 * the source's own configuration is left out (a compute gets zenith's).
 */
final class StagedCluster {
    private static final java.util.logging.Logger LOG = java.util.logging.Logger.getLogger(StagedCluster.class.getName());
    /** Files of the source's server that mean nothing here (or would make PostgreSQL a standby). */
    private static final List<String> DROPPED = List.of("postmaster.pid", "postmaster.opts", "standby.signal",
            "recovery.signal", "backup_manifest", "backup_label.old", "tablespace_map.old", "current_logfiles");

    private StagedCluster() {
    }

    /** Refuses a directory that is not a PostgreSQL 15 data directory, naming why. */
    static void checkVersion(Path dataDir, String what) throws IOException {
        String version;
        try {
            version = Files.readString(dataDir.resolve("PG_VERSION")).trim();
        } catch (NoSuchFileException e) {
            throw new InvalidRequestException(what + " is not a PostgreSQL data directory (it has no PG_VERSION)");
        }
        if (!String.valueOf(PgInstallation.MAJOR_VERSION).equals(version)) {
            throw new InvalidRequestException(what + " is a PostgreSQL " + version + " cluster (PG_VERSION); zenith stores"
                    + " PostgreSQL " + PgInstallation.MAJOR_VERSION + " clusters only");
        }
        if (!Files.isRegularFile(dataDir.resolve("global/pg_control"))) {
            throw new InvalidRequestException(what + " has no global/pg_control");
        }
    }

    /**
     * Recovers the staged cluster when it needs it, sets the password, and leaves it shut down cleanly: one
     * single-user run of PostgreSQL does all three (recovery as a server start would do it, then the password,
     * then the shutdown checkpoint), instead of a server started and stopped for the recovery and a second run for
     * the password.
     */
    static void finish(Staging staging, String password, String what) throws IOException {
        long started = System.nanoTime();
        Path data = staging.dataDir();
        checkVersion(data, what);
        for (String f : DROPPED) {
            Files.deleteIfExists(data.resolve(f));
        }
        Path map = data.resolve("tablespace_map"); // pg_basebackup -Ft writes one, empty without tablespaces
        if (Files.exists(map) && !Files.readString(map).isBlank() || hasTablespaces(data)) {
            throw new InvalidRequestException(what + " has tablespaces; an import takes clusters without tablespaces");
        }
        Files.deleteIfExists(map);
        Files.createDirectories(data.resolve("pg_wal"));
        writeNeutralConfiguration(data, what);
        staging.handOver();
        PostgresProcess process = staging.process();
        ControlFile control = control(data, what);
        boolean recovers = control.state() != DbState.SHUTDOWNED || Files.exists(data.resolve("backup_label"));
        Map<String, String> run = new LinkedHashMap<>();
        if (recovers) {
            Progress.current().phase("recovering the cluster with PostgreSQL (to a consistent state) and giving role"
                    + " postgres the storage's password");
            // what the source ran with, where recovery needs at least as much
            run.put("max_connections", Integer.toString(Math.max(100, control.maxConnections())));
            run.put("max_worker_processes", Integer.toString(Math.max(8, control.maxWorkerProcesses())));
            run.put("max_prepared_transactions", Integer.toString(control.maxPreparedXacts()));
            run.put("max_locks_per_transaction", Integer.toString(Math.max(64, control.maxLocksPerXact())));
            run.put("wal_level", control.walLevel() == 2 ? "logical" : "replica");
            run.put("archive_mode", "off");
        } else {
            Progress.current().phase("giving role postgres the storage's password");
        }
        run.put("fsync", "off"); // the store syncs what it takes of the directory
        long prepared = System.nanoTime();
        try {
            process.setPasswordOffline(password, run);
        } catch (IOException e) {
            if (recovers) {
                throw new InvalidRequestException("PostgreSQL could not recover " + what + ": " + e.getMessage());
            }
            throw e;
        }
        LOG.info(String.format("%s: prepared in %.3f s, PostgreSQL's single-user run (%s) took %.3f s", what,
                (prepared - started) / 1e9, recovers ? "recovery, password, shutdown" : "password, shutdown",
                (System.nanoTime() - prepared) / 1e9));
        DbState after = control(data, what).state();
        if (after != DbState.SHUTDOWNED) {
            throw new IOException(what + " did not shut down cleanly after its recovery (pg_control says '" + after + "')");
        }
    }

    private static ControlFile control(Path data, String what) throws IOException {
        try {
            return ControlFile.parse(Files.readAllBytes(data.resolve("global/pg_control")));
        } catch (IllegalArgumentException e) {
            throw new InvalidRequestException(what + " has a pg_control PostgreSQL 15 would not read: " + e.getMessage());
        }
    }

    private static boolean hasTablespaces(Path data) throws IOException {
        Path dir = data.resolve("pg_tblspc");
        if (!Files.isDirectory(dir)) {
            return false;
        }
        try (var s = Files.list(dir)) {
            return s.findAny().isPresent();
        }
    }

    /**
     * The source's settings stay behind (they may name its paths, libraries or archive command): an empty
     * postgresql.conf and postgresql.auto.conf, no remote access (a compute writes its own rules at start).
     */
    private static void writeNeutralConfiguration(Path data, String what) throws IOException {
        Files.writeString(data.resolve("postgresql.conf"), "# imported into zenith from " + what
                + "; the source's settings were left out\n", StandardCharsets.UTF_8);
        Files.writeString(data.resolve("postgresql.auto.conf"), "", StandardCharsets.UTF_8);
        Files.writeString(data.resolve("pg_hba.conf"), "local all all peer\n", StandardCharsets.UTF_8);
        Files.writeString(data.resolve("pg_ident.conf"), "", StandardCharsets.UTF_8);
    }
}
