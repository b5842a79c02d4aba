package dev.zenith.cli;

import java.util.List;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ScopeType;

/** {@code zenith}: the root command and the options that work anywhere on the line. */
@Command(name = "zenith", scope = ScopeType.INHERIT,
        usageHelpAutoWidth = false,
        description = "Zenith local: branchable PostgreSQL 15 on your machine.",
        footerHeading = "%nExamples:%n",
        footer = {"  zenith start", "  zenith pg create main", "  zenith pg connect main",
                "  zenith snapshot create main@before-migration", "  zenith pg checkout main main@before-migration",
                "", "Add -h to any command for its options and an example."})
final class ZenithCommand implements Runnable {
    /**
     * The commands, in the order help lists them. Main adds only the one a line names (building every
     * command's model from its annotations is most of a short command's time), or all of them.
     */
    static final java.util.Map<String, Class<?>> COMMANDS = orderedCommands();

    private static java.util.Map<String, Class<?>> orderedCommands() {
        java.util.Map<String, Class<?>> m = new java.util.LinkedHashMap<>();
        for (Class<?> c : List.of(DaemonCommands.Start.class, DaemonCommands.Stop.class, DaemonCommands.Status.class,
                DaemonCommands.Logs.class, PgCommands.class, SnapshotCommands.class, StorageCommands.class, RemoteCommands.class,
                JobCommands.class,
                LogCommand.class, TreeCommand.class, CompletionCommand.class, CompletionCommand.Complete.class,
                WaldumpCommand.class, PageBenchCommand.class)) {
            m.put(c.getAnnotation(Command.class).name(), c);
        }
        return m;
    }

    private final Cli cli;

    ZenithCommand(Cli cli) {
        this.cli = cli;
    }

    @Option(names = {"-h", "--help"}, usageHelp = true, scope = ScopeType.INHERIT, description = "Show this help message and exit.")
    boolean help;

    /** Versions are the program's, not a command's: only {@code zenith --version}. */
    @Option(names = {"-V", "--version"}, versionHelp = true, scope = ScopeType.LOCAL,
            description = "Print zenith's, PostgreSQL's and Java's versions and exit.")
    boolean version;

    @Option(names = "--json", scope = ScopeType.INHERIT, description = "print the daemon's JSON answer (same as -o json)")
    void json(boolean on) {
        if (on) {
            cli.format = Cli.Format.JSON;
        }
    }

    @Option(names = {"-o", "--output"}, scope = ScopeType.INHERIT, paramLabel = "FORMAT",
            description = "table (default), wide (every column) or json")
    void output(Cli.Format format) {
        cli.format = format;
    }

    @Option(names = "--no-color", scope = ScopeType.INHERIT, description = "no colour (also: NO_COLOR set)")
    void noColor(boolean on) {
        cli.noColor = on;
    }

    @Spec
    CommandSpec spec;

    @Override
    public void run() {
        throw new ParameterException(spec.commandLine(), "a command is missing (see: zenith --help)");
    }
}
