package dev.zenith.server.security;

import dev.zenith.pgexec.PrivateFiles;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/**
 * A PostgreSQL password file (libpq's {@code passfile}, {@code PGPASSFILE}): one
 * {@code host:port:database:user:password} line per login, written 0600 (libpq ignores a file others
 * may read). The owner's psql, pgbench and pg_basebackup find the passwords there, so connection
 * strings and command lines (which every local user sees in ps) carry no secret.
 */
public final class PassFile {
    /** One login; {@code host} is written for 127.0.0.1 and for localhost. */
    public record Login(int port, String user, String password) {
    }

    private PassFile() {
    }

    public static void write(Path file, String header, List<Login> logins) throws IOException {
        StringBuilder sb = new StringBuilder("# ").append(header).append('\n');
        for (Login l : logins) {
            for (String host : List.of("127.0.0.1", "localhost")) {
                sb.append(host).append(':').append(l.port()).append(":*:").append(escape(l.user())).append(':')
                        .append(escape(l.password())).append('\n');
            }
        }
        PrivateFiles.write(file, sb.toString());
    }

    /** libpq's escaping: a backslash or colon in a field is preceded by a backslash. */
    static String escape(String field) {
        return field.replace("\\", "\\\\").replace(":", "\\:");
    }

    /** A file path as a connection URI's query value: percent-encoded where a URI needs it. */
    public static String uriQueryValue(Path file) {
        StringBuilder sb = new StringBuilder();
        for (byte b : file.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8)) {
            char c = (char) (b & 0xff);
            if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || "/._~-".indexOf(c) >= 0) {
                sb.append(c);
            } else {
                sb.append('%').append(String.format("%02X", b & 0xff));
            }
        }
        return sb.toString();
    }

    /** A value for a key=value connection string: single-quoted, with \ and ' escaped. */
    public static String conninfoValue(String value) {
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'";
    }
}
