package dev.zenith.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.zenith.pgexec.PgInstallation;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

/** {@code zenith pg connect PG [psql args]}: psql on the pg's connection string; the rest goes to psql. */
@Command(name = "connect", aliases = "psql", description = "Run psql on a pg; the rest of the line goes to psql.",
        footerHeading = "%nExamples:%n", footer = {"  zenith pg connect main", "  zenith pg connect main -c 'select 1'",
        "  zenith pg connect main -- -At -c 'select now()'"})
final class ConnectCommand implements Callable<Integer> {
    private final Cli cli;

    @Parameters(index = "0", paramLabel = "PG")
    String pg;

    /** psql's own options too: this command takes unknown options as arguments (see Main). */
    @Parameters(index = "1..*", paramLabel = "PSQL_ARGS", description = "passed to psql as they are")
    List<String> psqlArgs = new ArrayList<>();

    ConnectCommand(Cli cli) {
        this.cli = cli;
    }

    @Override
    public Integer call() throws Exception {
        JsonNode p = cli.client().get(PgCommands.path(pg));
        if (!"running".equals(p.path("status").asText())) {
            throw new CliException("pg " + pg + " is not running; start it with: zenith pg start " + pg);
        }
        List<String> cmd = new ArrayList<>(List.of(PgInstallation.detect().bin("psql").toString(), p.path("connstr").asText()));
        cmd.addAll(psqlArgs);
        ProcessBuilder pb = new ProcessBuilder(cmd);
        if (cli.invocation.process()) {
            return pb.inheritIO().start().waitFor();
        }
        Process proc = pb.start(); // a test's buffers: copy
        proc.getOutputStream().close();
        cli.out.write(proc.getInputStream().readAllBytes());
        cli.err.write(proc.getErrorStream().readAllBytes());
        return proc.waitFor();
    }
}
