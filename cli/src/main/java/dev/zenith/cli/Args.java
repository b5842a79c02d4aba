package dev.zenith.cli;

import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParameterException;

/** What several commands do with their arguments the same way. */
final class Args {
    private Args() {
    }

    /**
     * A name given positionally (as git does) or with -n (the older form), not two different ones.
     * {@code kind}: "pg", "storage"; {@code example}: a command line that gives one.
     */
    static String name(String kind, String positional, String option, String example) {
        if (positional != null && option != null && !positional.equals(option)) {
            throw new CliException("two " + kind + " names: '" + positional + "' and -n '" + option + "'; give one", 2);
        }
        String n = positional != null ? positional : option;
        if (n == null) {
            throw new CliException("missing " + kind + " name, e.g.: " + example, 2);
        }
        return n;
    }

    /** A command group (pg, snapshot, storage) run without one of its commands. */
    static ParameterException needsSubcommand(CommandSpec group) {
        return new ParameterException(group.commandLine(), group.name() + " needs a subcommand: "
                + String.join(", ", group.subcommands().keySet()));
    }
}
