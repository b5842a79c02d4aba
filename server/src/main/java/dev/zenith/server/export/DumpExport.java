package dev.zenith.server.export;

import dev.zenith.pgexec.PgInstallation;
import dev.zenith.server.compute.ComputeManager;
import dev.zenith.server.history.Snapshot;
import dev.zenith.server.jobs.Progress;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Map;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
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
    List<SnapshotExporter.Dumped> write(Snapshot snapshot, String node, Path dir) throws IOException {
        Progress progress = Progress.current();
        Files.createDirectory(dir, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        progress.phase("starting read-only pg " + node + " at " + snapshot.fullName());
        ComputeManager.Created started = computes.create(new ComputeManager.CreateRequest(node, null, true, snapshot.fullName(), null,
                null, null, true, null));
        try {
            int port = started.pg().port();
            List<String> databases = query(port, "postgres",
                    "SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate ORDER BY datname")
                    .stream().map(row -> row[0]).toList();
            List<SnapshotExporter.Dumped> dumped = new ArrayList<>();
            progress.phase("dumping roles and tablespaces");
            run(List.of(pg.bin("pg_dumpall").toString(), "-w", "--globals-only", "-f", dir.resolve("globals.sql").toString(),
                    "-d", conninfo(port, "postgres")), line -> { });
            for (String db : databases) {
                progress.checkCancelled(); // between dumps into the temporary directory; the pg goes below
                Map<String, Long> tables = tableBytes(port, db);
                progress.phase("dumping database " + db, tables.values().stream().mapToLong(Long::longValue).sum());
                Path file = dir.resolve(fileName(db));
                TableProgress tableProgress = new TableProgress(tables, progress);
                run(List.of(pg.bin("pg_dump").toString(), "-w", "-v", "-Fc", "-f", file.toString(), "-d", conninfo(port, db)),
                        tableProgress::line);
                tableProgress.finish();
                dumped.add(new SnapshotExporter.Dumped(db, file.getFileName().toString(), Files.size(file)));
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

    /**
     * The bytes (heap and TOAST) of each table whose rows pg_dump copies, by "schema.table" as its --verbose
     * output names them: the progress of a database's dump is the bytes of the tables it has copied.
     */
    private Map<String, Long> tableBytes(int port, String db) throws IOException {
        Map<String, Long> out = new HashMap<>();
        for (String[] row : query(port, db, "SELECT n.nspname || '.' || c.relname, pg_table_size(c.oid) FROM pg_class c"
                + " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'r'"
                + " AND n.nspname NOT IN ('pg_catalog', 'information_schema')")) {
            out.merge(row[0], Long.parseLong(row[1]), Long::sum);
        }
        return out;
    }

    /** Follows pg_dump --verbose: a table's bytes are done when the next one begins, the last at the end. */
    private static final class TableProgress {
        private static final Pattern COPYING = Pattern.compile("pg_dump: dumping contents of table \"(.*)\"");
        private final Map<String, Long> tables;
        private final Progress progress;
        private String current;

        TableProgress(Map<String, Long> tables, Progress progress) {
            this.tables = tables;
            this.progress = progress;
        }

        void line(String line) {
            Matcher m = COPYING.matcher(line);
            if (m.matches()) {
                finish();
                current = m.group(1);
            }
        }

        void finish() {
            Long bytes = current == null ? null : tables.remove(current);
            if (bytes != null) {
                progress.advance(bytes);
            }
            current = null;
        }
    }

    /** Rows of a query, each row's fields (psql's unaligned output, NUL between rows, US between fields). */
    private List<String[]> query(int port, String db, String sql) throws IOException {
        String out = run(List.of(pg.bin("psql").toString(), "-X", "-w", "-At", "-0", "-F", "\u001f", "-v", "ON_ERROR_STOP=1",
                "-d", conninfo(port, db), "-c", sql), line -> { });
        List<String[]> rows = new ArrayList<>();
        for (String row : out.split("\0")) {
            String r = row.endsWith("\n") ? row.substring(0, row.length() - 1) : row;
            if (!r.isEmpty()) {
                rows.add(r.split("\u001f", -1));
            }
        }
        return rows;
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

    /**
     * Runs a client tool with the owner's password file, telling {@code eachLine} every line of its output
     * (stdout and stderr) as it comes; its output, or an IOException with it.
     */
    private String run(List<String> command, Consumer<String> eachLine) throws IOException {
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
        pb.environment().put("PGPASSFILE", passFile.toString());
        pb.environment().remove("PGPASSWORD");
        Process p = pb.start();
        StringBuilder all = new StringBuilder();
        try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
            for (String line = r.readLine(); line != null; line = r.readLine()) {
                all.append(line).append('\n');
                eachLine.accept(line);
            }
        }
        String out = all.toString();
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
