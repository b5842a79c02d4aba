package dev.zenith.cli;

import com.fasterxml.jackson.databind.JsonNode;
import picocli.CommandLine.Help.Ansi;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

/**
 * What every command of one run shares: where output goes, the global options (--json, -o, --yes),
 * whether a person sits at a terminal (colour, progress bars, questions), and the daemon's client.
 */
final class Cli {
    enum Format { TABLE, WIDE, JSON }

    PrintStream out;
    PrintStream err;
    /** stdin and stdout are a terminal: colour, questions, progress bars. */
    boolean terminal;
    Invocation invocation;
    Format format;
    boolean yes;
    boolean noColor;
    /** Set when the line cannot be run where it runs (the daemon, for a client): the client runs it itself. */
    String notHere;
    private Home home;
    private DaemonClient client;

    Cli(Invocation invocation) {
        begin(invocation);
    }

    /**
     * A run begins: everything of the previous one is forgotten. The daemon keeps the command trees it built
     * (reading the commands' annotations is most of a short command's time) and their Cli, and begins it anew.
     */
    void begin(Invocation next) {
        invocation = next;
        out = next.out();
        err = next.err();
        terminal = next.terminal();
        format = Format.TABLE;
        yes = false;
        noColor = false;
        notHere = null;
        home = null;
        client = null;
    }

    /** Output captured in {@code out} and {@code err} (tests): no terminal. */
    Cli(PrintStream out, PrintStream err) {
        this(Invocation.captured(out, err));
    }

    boolean json() {
        return format == Format.JSON;
    }

    boolean wide() {
        return format == Format.WIDE;
    }

    Home home() {
        if (home == null) {
            home = invocation.home() != null ? new Home(invocation.home()) : Home.resolve();
        }
        return home;
    }

    DaemonClient client() {
        if (client == null) {
            client = new DaemonClient(home());
        }
        return client;
    }

    /** How wide output may be: the terminal's COLUMNS, else 100. */
    int width() {
        return invocation.width();
    }

    /** Whether text may use characters beyond ASCII (an ellipsis, box drawing): the locale is UTF-8. */
    boolean unicode() {
        return invocation.unicode();
    }

    /**
     * A path as the user meant it: relative to where they run zenith, not to where the daemon runs. Where their
     * directory is not known (see {@link Invocation#directory}) the line is left to the program.
     */
    String absolute(String path) {
        if (invocation.directory() == null) {
            throw new NotHere("paths are the client's own here");
        }
        return absolute(invocation.directory(), path);
    }

    /** {@code path} resolved against {@code directory}, normalized; a usage error when it is no path. */
    static String absolute(java.nio.file.Path directory, String path) {
        try {
            return directory.resolve(path).toAbsolutePath().normalize().toString();
        } catch (java.nio.file.InvalidPathException e) {
            throw new CliException("'" + path + "' is not a path: " + e.getReason(), 2);
        }
    }

    /** Whether this run sent the daemon a request that may have changed something (anything but a GET). */
    boolean askedForChange() {
        return client != null && client.askedForChange();
    }

    /** Now, in the user's time zone, for reading times they typed ({@link When}). */
    java.time.Clock clock() {
        java.time.ZoneId zone = invocation.zone();
        if (zone == null) {
            throw new NotHere("the time zone of the client is not known here");
        }
        return java.time.Clock.system(zone);
    }

    /** A command line that cannot run where it runs (see {@link #notHere}). */
    static final class NotHere extends RuntimeException {
        NotHere(String why) {
            super(why);
        }
    }

    /** Colour only on a terminal, and never when NO_COLOR is set (no-color.org) or TERM is dumb. */
    Ansi ansi() {
        boolean off = noColor || !terminal || invocation.variable("NO_COLOR") != null
                || "dumb".equals(invocation.variable("TERM"));
        return off ? Ansi.OFF : Ansi.ON;
    }

    /** Text in a picocli style (green, red, yellow, bold, faint) when colour is on. */
    String styled(String style, String text) {
        return ansi() == Ansi.ON ? Ansi.ON.string("@|" + style + " " + text.replace("|@", "| @") + "|@") : text;
    }

    /** A status word coloured by what it means. */
    String status(String status) {
        return switch (status) {
            case "running", "available", "succeeded" -> styled("green", status);
            case "stopped", "cancelled" -> styled("yellow", status);
            case "unavailable", "failed", "stalled" -> styled("red", status);
            default -> status;
        };
    }

    /** Prints the daemon's JSON as it is (--json), or lets {@code human} print it for people. */
    void emit(JsonNode json, Runnable human) {
        if (json()) {
            out.println(json.toPrettyString());
        } else {
            human.run();
        }
    }

    /**
     * A destructive action goes ahead with --yes, or when the person at the terminal says so; a script
     * without --yes is stopped before anything changes.
     */
    void confirm(String what) {
        if (yes) {
            return;
        }
        if (!terminal || invocation.answers() == null) {
            throw new CliException(what + "; add --yes to go ahead (nothing was changed)", 2);
        }
        err.print(what + ". Go ahead? [y/N] ");
        err.flush();
        String answer;
        try {
            answer = new BufferedReader(new InputStreamReader(invocation.answers(), StandardCharsets.UTF_8)).readLine();
        } catch (java.io.IOException e) {
            answer = null;
        }
        if (answer == null || !(answer.trim().equalsIgnoreCase("y") || answer.trim().equalsIgnoreCase("yes"))) {
            throw new CliException("nothing was changed", 1);
        }
    }
}
