package dev.zenith.cli;

import dev.zenith.cli.waldump.WalDumpCommand;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

import java.util.List;
import java.util.concurrent.Callable;

/** {@code zenith waldump FILE...}: WAL records like pg_waldump, read from segment files (no daemon needed). */
@Command(name = "waldump", description = "Print WAL records like pg_waldump (reads segment files; no daemon needed).",
        footerHeading = "%nExample:%n", footer = "  zenith waldump .zenith/computes/main/pg_wal/000000010000000000000001")
final class WaldumpCommand implements Callable<Integer> {
    private final Cli cli;

    @Parameters(arity = "1..*", paramLabel = "FILE")
    List<String> files;

    WaldumpCommand(Cli cli) {
        this.cli = cli;
    }

    @Override
    public Integer call() {
        return WalDumpCommand.run(files, cli.out, cli.err);
    }
}
