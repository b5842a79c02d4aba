package dev.zenith.cli;

import java.io.InputStream;
import java.io.PrintStream;
import java.nio.file.Path;
import java.time.ZoneId;
import java.util.Map;
import java.util.Set;

/**
 * Where one command line runs: where its output goes, whether a person sits at a terminal, the environment
 * it was typed in (colour, width, character set, time zone), the home it is about, and how progress bars are
 * drawn. The zenith program runs commands in its own process ({@link #program}); the daemon runs the
 * ones it serves for a client of the launcher's lean path with that client's facts ({@link #forClient}), so
 * both print the same bytes.
 *
 * @param terminal a person at a terminal: stdin and stdout are one (colour, questions, progress bars)
 * @param env      the variables the output depends on ({@link #ENVIRONMENT}), as the user's shell has them; for a
 *                 client's {@code basebackup://} import also those of {@link #PASSWORDS} it sent
 * @param zone     the local time zone times without one are read in; null when it cannot be known here
 * @param answers  where a person's answers to questions come from (stdin), or null: nobody can answer
 * @param home     the ZENITH_HOME the command is about, or null: resolved as usual ({@link Home#resolve})
 * @param bars     draws progress bars on a terminal, or null: phases are lines
 * @param process  this process is the command's own: its stdin and stdout are the user's (psql may inherit them)
 * @param directory where the user's relative paths start (their working directory), or null: paths they give
 *                 cannot be taken here (a client that did not say, or another user than the daemon's, whose
 *                 paths the daemon must not resolve and write for them)
 */
public record Invocation(PrintStream out, PrintStream err, boolean terminal, Map<String, String> env, ZoneId zone,
                         InputStream answers, Path home, ProgressBars bars, boolean process, Path directory) {

    /** The environment variables a command's output depends on; the lean path sends these and no others. */
    public static final Set<String> ENVIRONMENT = Set.of("NO_COLOR", "TERM", "COLUMNS", "LC_ALL", "LC_CTYPE", "LANG", "TZ");

    /**
     * The variables a {@code basebackup://} import's login reads (libpq's): the lean path sends these apart from
     * {@link #ENVIRONMENT}, only for such a line, never on a command line.
     */
    public static final Set<String> PASSWORDS = Set.of("PGPASSWORD", "PGPASSFILE");

    /** The zenith program itself: the user's terminal (if any), environment, time zone and stdin. */
    public static Invocation program(PrintStream out, PrintStream err, boolean terminal, InputStream stdin, ProgressBars bars) {
        return new Invocation(out, err, terminal, System.getenv(), ZoneId.systemDefault(), terminal ? stdin : null, null,
                bars, true, ownDirectory());
    }

    /** Commands whose output is captured (tests): no terminal, this process's environment. */
    public static Invocation captured(PrintStream out, PrintStream err) {
        return new Invocation(out, err, false, System.getenv(), ZoneId.systemDefault(), null, null, null, false, ownDirectory());
    }

    /**
     * A client's command line, run by the daemon of {@code home}: the client's terminal fact and environment,
     * nobody to answer questions, no bars. The local time zone is the client's {@code TZ} when it names a
     * zone; without one, this process's only when its own {@code TZ} is unset too (both then read the
     * machine's), else unknown. {@code directory}: the client's working directory when its paths may be taken
     * here, else null.
     */
    public static Invocation forClient(PrintStream out, PrintStream err, boolean terminal, Map<String, String> env, Path home,
                                       Path directory) {
        return new Invocation(out, err, terminal, Map.copyOf(env), clientZone(env.get("TZ")), null, home, null, false,
                directory);
    }

    private static Path ownDirectory() {
        return Path.of("").toAbsolutePath();
    }

    private static ZoneId clientZone(String tz) {
        if (tz == null || tz.isEmpty()) {
            String own = System.getenv("TZ");
            return own == null || own.isEmpty() ? ZoneId.systemDefault() : null;
        }
        // A zone name as the JVM reads TZ (a leading ':' allowed); POSIX rules like "CET-1CEST" are left to it.
        String id = tz.startsWith(":") ? tz.substring(1) : tz;
        if (!id.matches("[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)*")) {
            return null;
        }
        try {
            return ZoneId.of(id);
        } catch (java.time.DateTimeException e) {
            return null;
        }
    }

    /** An environment variable as the user's shell has it, or null. */
    String variable(String name) {
        String v = env.get(name);
        return v == null || v.isEmpty() ? null : v;
    }

    /**
     * Whether the user's locale is UTF-8 (LC_ALL, else LC_CTYPE, else LANG): then tables cut text with an
     * ellipsis and trees are drawn with box characters, else with ASCII. Output is UTF-8 either way.
     */
    boolean unicode() {
        String ctype = variable("LC_ALL") != null ? variable("LC_ALL")
                : variable("LC_CTYPE") != null ? variable("LC_CTYPE") : variable("LANG");
        String c = ctype == null ? "" : ctype.toLowerCase(java.util.Locale.ROOT);
        return c.contains("utf-8") || c.contains("utf8");
    }

    /** The terminal's width from COLUMNS (when exported), else 100. */
    int width() {
        try {
            int w = Integer.parseInt(env.getOrDefault("COLUMNS", "100").trim());
            return w >= 40 ? w : 100;
        } catch (NumberFormatException e) {
            return 100;
        }
    }
}
