package dev.zenith.server.export;

import dev.zenith.pgexec.PgInstallation;
import dev.zenith.server.compute.ComputeManager;
import dev.zenith.server.history.Snapshot;
import dev.zenith.server.jobs.Progress;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.io.IOException;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * A snapshot as dumps: a temporary read-only pg at the snapshot (the compute manager's, a branch that
 * replays to the snapshot's LSN and serves reads), {@code pg_dump -Fc} of each database that takes
 * connections into {@code DATABASE.dump}, the roles and tablespaces ({@code pg_dumpall -g}) into
 * {@code globals.sql}; the pg is destroyed afterwards, whatever happened. Runs on the management thread.
 */
final class DumpExport {
    private static final Logger LOG = Logger.getLogger(DumpExport.class.getName());

    private final ComputeManager computes;
    private final PgInstallation pg;
    private final Path passFile;

    DumpExport(ComputeManager computes, PgInstallation pg, Path passFile) {
        this.computes = computes;
        this.pg = pg;
        this.passFile = passFile;
    }

    /** A name for the temporary pg that no pg has. */
    static String nodeName(ComputeManager computes) {
        while (true) {
            String name = "export-" + HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextInt());
            try {
                computes.checkExists(name);
            } catch (dev.zenith.server.domain.NotFoundException e) {
                return name;
            }
        }
    }

    /** Fills {@code dir} (created here) from a temporary read-only pg named {@code node}; the databases dumped. */
    JsonArray write(Snapshot snapshot, String node, Path dir) throws IOException {
        Progress progress = Progress.current();
        Files.createDirectory(dir, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        progress.phase("starting read-only pg " + node + " at " + snapshot.fullName());
        ComputeManager.Created started = computes.create(new ComputeManager.CreateRequest(node, null, true, snapshot.fullName(), null,
                null, null, true, null));
        try {
            int port = started.pg().port();
            List<String> databases = run(List.of(pg.bin("psql").toString(), "-X", "-w", "-At", "-v", "ON_ERROR_STOP=1",
                    "-d", conninfo(port, "postgres"), "-c",
                    "SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate ORDER BY datname"))
                    .lines().filter(l -> !l.isEmpty()).toList();
            JsonArray dumped = new JsonArray();
            progress.phase("dumping roles and tablespaces");
            run(List.of(pg.bin("pg_dumpall").toString(), "-w", "--globals-only", "-f", dir.resolve("globals.sql").toString(),
                    "-d", conninfo(port, "postgres")));
            for (String db : databases) {
                progress.phase("dumping database " + db);
                Path file = dir.resolve(fileName(db));
                run(List.of(pg.bin("pg_dump").toString(), "-w", "-Fc", "-f", file.toString(), "-d", conninfo(port, db)));
                dumped.add(new JsonObject().put("database", db).put("file", file.getFileName().toString())
                        .put("bytes", Files.size(file)));
            }
            return dumped;
        } finally {
            progress.phase("destroying read-only pg " + node);
            try {
                computes.destroy(node);
            } catch (IOException | RuntimeException e) {
                LOG.log(Level.WARNING, "could not destroy the export's read-only pg " + node + "; destroy it by hand", e);
            }
        }
    }

    /** A database name as a file name: '/' and other unsafe characters percent-encoded, never hidden. */
    static String fileName(String database) {
        String safe = URLEncoder.encode(database, StandardCharsets.UTF_8).replace("*", "%2A");
        return (safe.startsWith(".") ? "%2E" + safe.substring(1) : safe) + ".dump";
    }

    private String conninfo(int port, String database) {
        return "host=127.0.0.1 port=" + port + " user=postgres dbname='" + database.replace("\\", "\\\\").replace("'", "\\'")
                + "' application_name=zenith_export";
    }

    /** Runs a client tool with the owner's password file; its stdout, or an IOException with its output. */
    private String run(List<String> command) throws IOException {
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
        pb.environment().put("PGPASSFILE", passFile.toString());
        pb.environment().remove("PGPASSWORD");
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        try {
            if (!p.waitFor(10, TimeUnit.SECONDS) || p.exitValue() != 0) {
                p.destroyForcibly();
                throw new IOException(Path.of(command.get(0)).getFileName() + " failed: " + out.trim());
            }
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new IOException("interrupted");
        }
        return out;
    }
}
