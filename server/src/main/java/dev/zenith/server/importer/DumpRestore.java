package dev.zenith.server.importer;

import dev.zenith.pgexec.PgInstallation;
import dev.zenith.server.compute.PostgresProcess;
import dev.zenith.server.domain.InvalidRequestException;
import dev.zenith.server.jobs.Progress;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * {@code --from dump.sql|dump.custom}: a fresh cluster (initdb as for a new storage) in the staging
 * directory, on a Unix socket only, into whose database postgres psql (plain SQL) or pg_restore (custom
 * format) restores the dump, stopping at the first error; then shut down cleanly. The dump is read by
 * this process and handed to them on stdin, so PostgreSQL's user needs no access to it.
 */
final class DumpRestore {
    private DumpRestore() {
    }

    static void restore(PgInstallation pg, ImportSource.Dump dump, Staging staging, String password) throws IOException {
        if (!Files.isRegularFile(dump.path())) {
            throw new InvalidRequestException("dump " + dump.path() + " does not exist or is not a file");
        }
        if (dump.custom() && !startsWith(dump.path(), "PGDMP")) {
            throw new InvalidRequestException(dump.path() + " is not a pg_dump custom-format archive (pg_dump -Fc)");
        }
        Progress.current().phase("initdb for the restore");
        PostgresProcess process = staging.process();
        process.initdb(password);
        process.start(Map.of("listen_addresses", "", "unix_socket_directories", staging.runDir().toString(),
                "port", "5432", "fsync", "off", "autovacuum", "off"));
        try {
            Progress.current().phase("restoring " + dump.path().getFileName() + " with " + (dump.custom() ? "pg_restore" : "psql"),
                    Files.size(dump.path()));
            List<String> args = new ArrayList<>(List.of("-h", staging.runDir().toString(), "-p", "5432", "-U", "postgres",
                    "-d", "postgres"));
            if (dump.custom()) {
                args.add("--exit-on-error");
            } else {
                args.addAll(List.of("-X", "-q", "-v", "ON_ERROR_STOP=1"));
            }
            run(pg.command(dump.custom() ? "pg_restore" : "psql", args.toArray(String[]::new)), dump.path(), staging);
        } finally {
            process.stop();
        }
    }

    private static boolean startsWith(Path file, String magic) throws IOException {
        try (var in = Files.newInputStream(file)) {
            byte[] head = in.readNBytes(magic.length());
            return new String(head, StandardCharsets.US_ASCII).equals(magic);
        }
    }

    private static void run(List<String> cmd, Path input, Staging staging) throws IOException {
        Path output = staging.runDir().resolve("restore.out");
        Process p = new ProcessBuilder(cmd).redirectInput(input.toFile()).redirectErrorStream(true)
                .redirectOutput(output.toFile()).start();
        try {
            p.waitFor(); // as long as the dump takes; a cancelled import interrupts this thread
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new IOException("the restore was interrupted");
        }
        Progress.current().advance(Files.size(input));
        if (p.exitValue() != 0) {
            String out = Files.readString(output).trim();
            throw new InvalidRequestException("restoring " + input + " failed: "
                    + out.substring(Math.max(0, out.length() - 2000)));
        }
    }
}
