package dev.zenith.server.importer;

import dev.zenith.server.domain.InvalidRequestException;

import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;

/**
 * What {@code snapshot import --from} names, told apart by its spelling alone (no I/O, so it is checked on
 * the event loop): a {@code basebackup://} URL, a pg_basebackup tar, a pg_dump file, or a data directory.
 */
public sealed interface ImportSource {

    /** How the source appears in answers and the log (never with a password). */
    String describe();

    /** {@code basebackup://USER@HOST:PORT[/DB]}: a base backup taken by our replication client. */
    record BaseBackupUrl(String user, String host, int port, String database) implements ImportSource {
        public String describe() {
            return "basebackup://" + user + "@" + host + ":" + port + (database == null ? "" : "/" + database);
        }
    }

    /** A stopped cluster's data directory. */
    record DataDirectory(Path path) implements ImportSource {
        public String describe() {
            return path.toString();
        }
    }

    /** {@code pg_basebackup -Ft} output: base.tar (or .tar.gz, .tar.zst) with pg_wal.tar beside it. */
    record BackupTar(Path path, Compression compression) implements ImportSource {
        public String describe() {
            return path.toString();
        }
    }

    /** A pg_dump file: plain SQL (psql) or custom format (pg_restore). */
    record Dump(Path path, boolean custom) implements ImportSource {
        public String describe() {
            return path.toString();
        }
    }

    enum Compression {
        NONE(".tar"), GZIP(".tar.gz"), ZSTD(".tar.zst");

        final String suffix;

        Compression(String suffix) {
            this.suffix = suffix;
        }
    }

    static ImportSource parse(String from) {
        if (from == null || from.isBlank()) {
            throw new InvalidRequestException("give what to import: --from basebackup://USER@HOST:PORT[/DB], a data"
                    + " directory, a pg_basebackup .tar[.gz|.zst] or a pg_dump .sql/.custom file");
        }
        if (from.startsWith("basebackup://")) {
            return url(from);
        }
        if (from.contains("://")) {
            throw new InvalidRequestException("unknown import URL '" + from + "'; the one URL scheme is basebackup://");
        }
        Path path;
        try {
            path = Path.of(from);
        } catch (InvalidPathException e) {
            throw new InvalidRequestException("'" + from + "' is not a path: " + e.getReason());
        }
        if (!path.isAbsolute()) {
            throw new InvalidRequestException("the import source must be an absolute path, got '" + from + "'");
        }
        path = path.normalize();
        String name = path.getFileName() == null ? "" : path.getFileName().toString();
        for (Compression c : Compression.values()) {
            if (name.endsWith(c.suffix)) {
                return new BackupTar(path, c);
            }
        }
        if (name.endsWith(".tgz")) {
            return new BackupTar(path, Compression.GZIP);
        }
        if (name.endsWith(".sql")) {
            return new Dump(path, false);
        }
        if (name.endsWith(".custom") || name.endsWith(".dump")) {
            return new Dump(path, true);
        }
        return new DataDirectory(path);
    }

    private static BaseBackupUrl url(String from) {
        URI uri;
        try {
            uri = new URI(from);
        } catch (URISyntaxException e) {
            throw new InvalidRequestException("'" + from + "' is not a basebackup:// URL: " + e.getReason());
        }
        String user = uri.getRawUserInfo();
        if (user == null || user.isEmpty() || user.contains(":")) {
            throw new InvalidRequestException("'" + from + "' needs a user and no password: basebackup://USER@HOST:PORT[/DB]"
                    + " (the password comes from PGPASSWORD or ~/.pgpass)");
        }
        if (uri.getHost() == null || uri.getPort() < 1) {
            throw new InvalidRequestException("'" + from + "' needs a host and a port: basebackup://USER@HOST:PORT[/DB]");
        }
        String path = uri.getPath();
        String db = path == null || path.isEmpty() || path.equals("/") ? null : path.substring(1);
        if (db != null && db.contains("/") || uri.getQuery() != null || uri.getFragment() != null) {
            throw new InvalidRequestException("'" + from + "' has more than basebackup://USER@HOST:PORT[/DB]");
        }
        return new BaseBackupUrl(uri.getUserInfo(), uri.getHost(), uri.getPort(), db);
    }
}
