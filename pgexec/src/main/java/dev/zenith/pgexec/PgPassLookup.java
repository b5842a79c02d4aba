package dev.zenith.pgexec;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The password libpq would use for a connection: PGPASSWORD, else the first matching line of the password
 * file (PGPASSFILE, or ~/.pgpass) as libpq reads it: {@code host:port:database:user:password}, {@code *} for
 * any, backslash escaping ':' and '\'. A replication connection matches database {@code replication}.
 */
public final class PgPassLookup {
    private PgPassLookup() {
    }

    public static Optional<String> password(String host, int port, String database, String user) {
        String env = System.getenv("PGPASSWORD");
        if (env != null && !env.isEmpty()) {
            return Optional.of(env);
        }
        String file = System.getenv("PGPASSFILE");
        Path path = file != null && !file.isEmpty() ? Path.of(file) : defaultFile();
        return fromFile(path, host, port, database, user);
    }

    /** The password file libpq reads without PGPASSFILE: ~/.pgpass of this process's user. */
    public static Path defaultFile() {
        return Path.of(System.getProperty("user.home"), ".pgpass");
    }

    /** The first matching line of the password file {@code path}; empty when none, or no such file (as libpq). */
    public static Optional<String> fromFile(Path path, String host, int port, String database, String user) {
        if (!Files.isRegularFile(path)) {
            return Optional.empty();
        }
        try {
            for (String line : Files.readAllLines(path)) {
                Optional<String> p = match(line, host, port, database, user);
                if (p.isPresent()) {
                    return p;
                }
            }
        } catch (IOException e) {
            return Optional.empty(); // libpq, too, goes on without it
        }
        return Optional.empty();
    }

    public static Optional<String> match(String line, String host, int port, String database, String user) {
        if (line.isBlank() || line.startsWith("#")) {
            return Optional.empty();
        }
        List<String> f = fields(line);
        if (f.size() < 5) {
            return Optional.empty();
        }
        String[] wanted = {host, Integer.toString(port), database, user};
        for (int i = 0; i < 4; i++) {
            if (!f.get(i).equals("*") && !f.get(i).equals(wanted[i])) {
                return Optional.empty();
            }
        }
        return Optional.of(f.get(4));
    }

    private static List<String> fields(String line) {
        List<String> out = new ArrayList<>();
        StringBuilder cur = new StringBuilder();
        for (int i = 0; i < line.length(); i++) {
            char c = line.charAt(i);
            if (c == '\\' && i + 1 < line.length()) {
                cur.append(line.charAt(++i));
            } else if (c == ':' && out.size() < 4) {
                out.add(cur.toString());
                cur.setLength(0);
            } else {
                cur.append(c);
            }
        }
        out.add(cur.toString());
        return out;
    }
}
