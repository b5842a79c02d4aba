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

    final PrintStream out;
    final PrintStream err;
    /** stdin and stdout are a terminal, and out is this process's stdout (not a test's buffer). */
    final boolean terminal;
    Format format = Format.TABLE;
    boolean yes;
    boolean noColor;
    private Home home;
    private DaemonClient client;

    Cli(PrintStream out, PrintStream err) {
        this.out = out;
        this.err = err;
        this.terminal = out == System.out && System.console() != null;
    }

    boolean json() {
        return format == Format.JSON;
    }

    boolean wide() {
        return format == Format.WIDE;
    }

    Home home() {
        if (home == null) {
            home = Home.resolve();
        }
        return home;
    }

    DaemonClient client() {
        if (client == null) {
            client = new DaemonClient(home());
        }
        return client;
    }

    /** Colour only on a terminal, and never when NO_COLOR is set (no-color.org) or TERM is dumb. */
    Ansi ansi() {
        String noColorEnv = System.getenv("NO_COLOR");
        boolean off = noColor || !terminal || (noColorEnv != null && !noColorEnv.isEmpty())
                || "dumb".equals(System.getenv("TERM"));
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
            case "stopped" -> styled("yellow", status);
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
        if (!terminal) {
            throw new CliException(what + "; add --yes to go ahead (nothing was changed)", 2);
        }
        err.print(what + ". Go ahead? [y/N] ");
        err.flush();
        String answer;
        try {
            answer = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8)).readLine();
        } catch (java.io.IOException e) {
            answer = null;
        }
        if (answer == null || !(answer.trim().equalsIgnoreCase("y") || answer.trim().equalsIgnoreCase("yes"))) {
            throw new CliException("nothing was changed", 1);
        }
    }
}
