package dev.zenith.cli;

import picocli.CommandLine;
import picocli.CommandLine.IFactory;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.UnmatchedArgumentException;

import java.io.PrintStream;
import java.io.PrintWriter;
import java.lang.reflect.Constructor;
import java.util.List;

/**
 * The {@code zenith} commands (picocli): turn command lines into REST calls and print the answers for
 * people (or the daemon's JSON with {@code --json}). Errors go to stderr as {@code zenith: ...}; exit
 * codes: 1 an error, 2 a usage error (with "did you mean" on typos), 3 no daemon runs (status). Where a line
 * runs is its {@link Invocation}: the zenith program's own process, or the daemon for a client.
 */
public final class Main {
    private final Invocation invocation;

    public Main(Invocation invocation) {
        this.invocation = invocation;
    }

    /** Output captured in {@code out} and {@code err}, no terminal (tests). */
    public Main(PrintStream out, PrintStream err) {
        this(Invocation.captured(out, err));
    }

    /** Runs one command; returns the exit code. */
    public int run(List<String> argv) {
        return run(new Cli(invocation), argv);
    }

    static int run(Cli cli, List<String> argv) {
        CommandLine cmd = commandLine(cli, commandNamed(argv));
        if (argv.isEmpty()) {
            cmd.usage(cli.out, cli.ansi());
            return 2;
        }
        return cmd.execute(argv.toArray(String[]::new));
    }

    /** The top-level command the line names, or null (none, or a typo: every command is needed then). */
    static String commandNamed(List<String> argv) {
        for (int i = 0; i < argv.size(); i++) {
            String a = argv.get(i);
            if (a.equals("-o") || a.equals("--output")) {
                i++; // its value
            } else if (!a.startsWith("-")) {
                // completion walks the whole tree
                return ZenithCommand.COMMANDS.containsKey(a) && !a.equals("__complete") ? a : null;
            }
        }
        return null;
    }

    /** The whole command tree for one run. */
    static CommandLine commandLine(Cli cli) {
        return commandLine(cli, null);
    }

    /** The command tree for one run, with only command {@code only} when given; every command gets the run's {@link Cli}. */
    static CommandLine commandLine(Cli cli, String only) {
        IFactory factory = factory(cli);
        CommandLine cmd = new CommandLine(new ZenithCommand(cli), factory);
        for (var c : ZenithCommand.COMMANDS.entrySet()) {
            if (only == null || only.equals(c.getKey())) {
                try {
                    cmd.addSubcommand(c.getKey(), new CommandLine(factory.create(c.getValue()), factory));
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            }
        }
        // Set here, on the root only: as a (scope INHERIT) annotation every subcommand's model would ask it,
        // running postgres --version ~40 times per command.
        cmd.getCommandSpec().versionProvider(new VersionInfo());
        configure(cmd, cli);
        cmd.setCaseInsensitiveEnumValuesAllowed(true);
        cmd.setAbbreviatedSubcommandsAllowed(false);
        // psql's options (-c, -At...) after the pg's name go to psql, in their order
        if (cmd.getSubcommands().containsKey("pg")) {
            cmd.getSubcommands().get("pg").getSubcommands().get("connect").setUnmatchedOptionsArePositionalParams(true);
        }
        cmd.setParameterExceptionHandler((ParameterException e, String[] args) -> {
            CommandLine at = e.getCommandLine();
            String message = e instanceof UnmatchedArgumentException u ? unmatched(u) : e.getMessage();
            cli.err.println("zenith: " + message);
            if (e instanceof UnmatchedArgumentException u && !u.getSuggestions().isEmpty()) {
                cli.err.println("did you mean: " + String.join(" or ", closestFirst(u)) + "?");
            }
            cli.err.println("see: " + at.getCommandSpec().qualifiedName() + " --help");
            return 2;
        });
        cmd.setExecutionExceptionHandler((Exception e, CommandLine at, CommandLine.ParseResult parsed) -> {
            if (e instanceof Cli.NotHere n) {
                cli.notHere = n.getMessage();
                return 1;
            }
            if (e instanceof CliException c) {
                cli.err.println("zenith: " + c.getMessage());
                return c.exitCode();
            }
            if (e instanceof ParameterException p) {
                return at.getParameterExceptionHandler().handleParseException(p, new String[0]);
            }
            cli.err.println("zenith: " + (e.getMessage() == null ? e.toString() : e.getMessage()));
            return 1;
        });
        return cmd;
    }

    /**
     * What of a tree depends on the run rather than on the commands: where help and errors go, colour, width.
     * A tree built for one run is used for the next (the daemon's, whose {@link Cli} begins each run anew)
     * once this is done again.
     */
    static void configure(CommandLine cmd, Cli cli) {
        cmd.setOut(new PrintWriter(cli.out, true)).setErr(new PrintWriter(cli.err, true));
        cmd.setColorScheme(CommandLine.Help.defaultColorScheme(cli.ansi()));
        cmd.setUsageHelpWidth(Math.min(cli.width(), 120));
    }

    /** picocli's suggestions, the closest (fewest edits) to what was typed first. */
    private static List<String> closestFirst(UnmatchedArgumentException u) {
        String typed = u.getUnmatched().isEmpty() ? "" : u.getUnmatched().get(0);
        return u.getSuggestions().stream()
                .sorted(java.util.Comparator.comparingInt((String s) -> editDistance(typed, s))).toList();
    }

    static int editDistance(String a, String b) {
        int[] prev = new int[b.length() + 1];
        int[] cur = new int[b.length() + 1];
        for (int j = 0; j <= b.length(); j++) {
            prev[j] = j;
        }
        for (int i = 1; i <= a.length(); i++) {
            cur[0] = i;
            for (int j = 1; j <= b.length(); j++) {
                cur[j] = Math.min(Math.min(cur[j - 1], prev[j]) + 1, prev[j - 1] + (a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1));
            }
            int[] t = prev;
            prev = cur;
            cur = t;
        }
        return prev[b.length()];
    }

    /** "Unmatched argument at index 1: 'strat'" in people's words. */
    private static String unmatched(UnmatchedArgumentException u) {
        List<String> words = u.getUnmatched();
        String word = words.isEmpty() ? "?" : words.get(0);
        String where = u.getCommandLine().getCommandSpec().qualifiedName();
        boolean hasSubcommands = !u.getCommandLine().getSubcommands().isEmpty();
        return (word.startsWith("-") ? "unknown option '" + word + "' for '" + where + "'"
                : hasSubcommands ? "unknown command '" + word + "' for '" + where + "'"
                : "unexpected argument" + (words.size() > 1 ? "s " : " ") + String.join(" ", words) + " for '" + where + "'");
    }

    private static IFactory factory(Cli cli) {
        IFactory fallback = CommandLine.defaultFactory();
        return new IFactory() {
            @Override
            public <K> K create(Class<K> type) throws Exception {
                for (Constructor<?> c : type.getDeclaredConstructors()) {
                    if (c.getParameterCount() == 1 && c.getParameterTypes()[0] == Cli.class) {
                        c.setAccessible(true);
                        return type.cast(c.newInstance(cli));
                    }
                }
                return fallback.create(type);
            }
        };
    }
}
