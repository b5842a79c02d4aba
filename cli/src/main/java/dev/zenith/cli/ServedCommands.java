package dev.zenith.cli;

import picocli.CommandLine;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.ParseResult;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * The command lines a daemon runs for a client (the launcher's lean path, {@code POST /cli}), so that they
 * cost no JVM start: commands that read and print (lists, show, status, log, tree, connstr, names for
 * completion), and commands that change things and wait for the daemon's answer (pg create, start, stop,
 * destroy, snapshot create, export, storage attach...) when no person sits at a terminal (there the program
 * draws progress bars and asks questions). Never one that runs a program or reads the client's stdin. They run
 * the same command code with the client's terminal, environment and working directory
 * ({@link Invocation#forClient}), so they print the bytes the zenith program would. Help, version, usage errors
 * and any other command are left to the program, as is a line that cannot be run here (a path of another user,
 * an unknown time zone); that is found before anything is asked of the daemon, so no line runs twice.
 */
public final class ServedCommands {
    /** The reading commands served, by their names (an alias, like {@code pg ls}, is its command). */
    static final Set<String> SERVED = Set.of("pg list", "pg show", "pg connstr", "snapshot list", "snapshot show",
            "snapshot diff", "storage list", "storage show", "status", "log", "tree", "__complete");

    /** The changing commands served when the client is not at a terminal (they wait for a job, ask before a loss). */
    static final Set<String> CHANGES = Set.of("pg create", "pg start", "pg stop", "pg destroy", "pg promote",
            "pg checkout", "snapshot create", "snapshot destroy", "snapshot export", "snapshot import", "snapshot push", "snapshot pull",
            "storage attach", "storage detach", "storage gc");

    /** The words of {@link #SERVED} and their aliases, to tell a reading line from others before parsing it. */
    private static final Set<String> READING_WORDS = Stream.concat(SERVED.stream(),
            Stream.of("pg ls", "snapshot ls", "storage ls")).collect(Collectors.toUnmodifiableSet());

    /**
     * The command trees not in use (by the top-level command they hold) with the Cli they are bound to: building a
     * tree reads the commands' annotations, ~20 ms even in a warm JVM, more than all the rest of a run. A tree is
     * used by one run at a time, its Cli begun anew for each, and given back after. Shared by every thread: a
     * pool's new threads (the daemon's changing lines run on up to 16) each built their own before.
     */
    private static final Map<String, Deque<Bound>> IDLE_TREES = new ConcurrentHashMap<>();

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
     * Whether {@code argv} names one of the reading commands (a quick look at its words, no parse): those answer
     * at once, anything else may wait minutes for a job, so the daemon runs the two kinds on different threads.
     */
    public static boolean reads(List<String> argv) {
        List<String> words = new ArrayList<>();
        for (int i = 0; i < argv.size() && words.size() < 2; i++) {
            String a = argv.get(i);
            if (a.equals("-o") || a.equals("--output")) {
                i++; // its value
            } else if (!a.startsWith("-")) {
                words.add(a);
            }
        }
        return !words.isEmpty() && (READING_WORDS.contains(words.get(0))
                || words.size() == 2 && READING_WORDS.contains(words.get(0) + " " + words.get(1)));
    }

    /**
     * Runs {@code argv} as a client typed it, for the daemon of {@code home}: {@code terminal} whether its stdin
     * and stdout are a terminal, {@code env} its values of {@link Invocation#ENVIRONMENT} (and of {@link
     * Invocation#PASSWORDS} for a {@code basebackup://} import), {@code directory} its
     * working directory when its paths may be taken here, else null.
     */
    public static Answer run(List<String> argv, boolean terminal, Map<String, String> env, Path home, Path directory) {
        if (argv.isEmpty()) {
            return Answer.notServed("no command");
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        PrintStream o = new PrintStream(out, true, StandardCharsets.UTF_8);
        PrintStream e = new PrintStream(err, true, StandardCharsets.UTF_8);
        Invocation invocation = Invocation.forClient(o, e, terminal, env, home, directory);
        String top = Main.commandNamed(argv);
        Deque<Bound> idle = IDLE_TREES.computeIfAbsent(String.valueOf(top), k -> new ConcurrentLinkedDeque<>());
        Bound bound = idle.pollFirst();
        if (bound == null) {
            Cli cli = new Cli(invocation);
            bound = new Bound(cli, Main.commandLine(cli, top));
        }
        try {
            return run(bound, argv, terminal, invocation, o, e, out, err);
        } finally {
            idle.offerFirst(bound);
        }
    }

    /** The line run on {@code bound}, which no other run uses meanwhile; {@code o}/{@code e} print into out/err. */
    private static Answer run(Bound bound, List<String> argv, boolean terminal, Invocation invocation, PrintStream o,
                              PrintStream e, ByteArrayOutputStream out, ByteArrayOutputStream err) {
        Cli cli = bound.cli();
        cli.begin(invocation);
        Main.configure(bound.tree(), cli);
        String[] args = argv.toArray(String[]::new);
        String why = whyNotServed(bound.tree(), args, terminal);
        if (why != null) {
            return Answer.notServed(why);
        }
        cli.begin(invocation); // what parsing set (--json...) is set again by the run's own parse
        int code = bound.tree().execute(args);
        o.flush();
        e.flush();
        if (cli.notHere != null && cli.askedForChange()) { // a bug: the client must not run it again
            e.println("zenith: this command stopped after it asked the daemon for a change (" + cli.notHere
                    + "); see what it did with: zenith status");
            return new Answer(1, out.toByteArray(), err.toByteArray(), null);
        }
        return cli.notHere != null ? Answer.notServed(cli.notHere) : new Answer(code, out.toByteArray(), err.toByteArray(), null);
    }

    /**
     * Null when the line is one of {@link #SERVED}, or of {@link #CHANGES} off a terminal, with no help or version
     * asked and no usage error.
     */
    private static String whyNotServed(CommandLine tree, String[] args, boolean terminal) {
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
        if (CHANGES.contains(command)) {
            return terminal ? "on a terminal the program shows progress bars and asks before a loss" : null;
        }
        return SERVED.contains(command) ? null : "'zenith " + command + "' is not one of the commands served here";
    }
}
