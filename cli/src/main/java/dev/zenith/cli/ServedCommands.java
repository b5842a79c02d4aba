package dev.zenith.cli;

import picocli.CommandLine;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.ParseResult;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The command lines a daemon runs for a client (the launcher's lean path, {@code POST /cli}), so that they
 * cost no JVM start: only commands that read and print (lists, show, status, log, tree, connstr, names for
 * completion), never one that asks, draws progress, waits, runs a program or reads a file. They run the same
 * command code with the client's terminal and environment ({@link Invocation#forClient}), so they print the
 * bytes the zenith program would. Help, version, usage errors and any other command are left to the program.
 */
public final class ServedCommands {
    /** The commands served, by their names (an alias, like {@code pg ls}, is its command). */
    static final Set<String> SERVED = Set.of("pg list", "pg show", "pg connstr", "snapshot list", "snapshot show",
            "snapshot diff", "storage list", "storage show", "status", "log", "tree", "__complete");

    /**
     * Per thread, the command trees built so far (by the top-level command they hold) with the Cli they are
     * bound to: building a tree reads the commands' annotations, ~20 ms even in a warm JVM, more than all the
     * rest of a run. A tree is used by one run at a time, its Cli begun anew for each.
     */
    private static final ThreadLocal<Map<String, Bound>> TREES = ThreadLocal.withInitial(HashMap::new);

    private record Bound(Cli cli, CommandLine tree) {
    }

    private ServedCommands() {
    }

    /** What a command line printed and its exit code; or, when {@code notServed} is set, why it was not run here. */
    public record Answer(int exitCode, byte[] out, byte[] err, String notServed) {
        static Answer notServed(String why) {
            return new Answer(0, new byte[0], new byte[0], why);
        }
    }

    /**
     * Runs {@code argv} as a client typed it, for the daemon of {@code home}: {@code terminal} whether its stdin
     * and stdout are a terminal, {@code env} its values of {@link Invocation#ENVIRONMENT}.
     */
    public static Answer run(List<String> argv, boolean terminal, Map<String, String> env, Path home) {
        if (argv.isEmpty()) {
            return Answer.notServed("no command");
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        PrintStream o = new PrintStream(out, true, StandardCharsets.UTF_8);
        PrintStream e = new PrintStream(err, true, StandardCharsets.UTF_8);
        Invocation invocation = Invocation.forClient(o, e, terminal, env, home);
        String top = Main.commandNamed(argv);
        Bound bound = TREES.get().computeIfAbsent(String.valueOf(top), k -> {
            Cli cli = new Cli(invocation);
            return new Bound(cli, Main.commandLine(cli, top));
        });
        Cli cli = bound.cli();
        cli.begin(invocation);
        Main.configure(bound.tree(), cli);
        String[] args = argv.toArray(String[]::new);
        String why = whyNotServed(bound.tree(), args);
        if (why != null) {
            return Answer.notServed(why);
        }
        cli.begin(invocation); // what parsing set (--json...) is set again by the run's own parse
        int code = bound.tree().execute(args);
        o.flush();
        e.flush();
        return cli.notHere != null ? Answer.notServed(cli.notHere) : new Answer(code, out.toByteArray(), err.toByteArray(), null);
    }

    /** Null when the line is one of {@link #SERVED} with no help or version asked and no usage error. */
    private static String whyNotServed(CommandLine tree, String[] args) {
        ParseResult parsed;
        try {
            parsed = tree.parseArgs(args);
        } catch (ParameterException e) {
            return "a usage error (the program explains it)";
        }
        List<String> names = new ArrayList<>();
        for (ParseResult p = parsed; p != null; p = p.subcommand()) {
            if (p.isUsageHelpRequested() || p.isVersionHelpRequested()) {
                return "help or version";
            }
            if (p != parsed) {
                names.add(p.commandSpec().name());
            }
        }
        String command = String.join(" ", names);
        return SERVED.contains(command) ? null : "'zenith " + command + "' is not one of the commands served here";
    }
}
