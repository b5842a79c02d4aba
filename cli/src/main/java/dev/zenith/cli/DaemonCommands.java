package dev.zenith.cli;

import com.fasterxml.jackson.databind.JsonNode;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;

/** The daemon's life: start, stop, status, and its log. */
final class DaemonCommands {
    private DaemonCommands() {
    }

    @Command(name = "start", description = "Start the daemon (state in ZENITH_HOME, default ./.zenith).",
            footerHeading = "%nExamples:%n", footer = {"  zenith start", "  ZENITH_HOME=~/zenith zenith start --foreground"})
    static final class Start implements Callable<Integer> {
        private final Cli cli;

        @Option(names = "--foreground", description = "run in this terminal until Ctrl-C")
        boolean foreground;

        Start(Cli cli) {
            this.cli = cli;
        }

        @Override
        public Integer call() throws Exception {
            return new DaemonLauncher(cli.home(), cli.client(), cli.out).start(foreground);
        }
    }

    @Command(name = "stop", description = "Stop every running pg cleanly, then the daemon.",
            footerHeading = "%nExample:%n", footer = "  zenith stop")
    static final class Stop implements Callable<Integer> {
        private final Cli cli;

        Stop(Cli cli) {
            this.cli = cli;
        }

        @Override
        public Integer call() throws Exception {
            return new DaemonLauncher(cli.home(), cli.client(), cli.out).stop(cli.err);
        }
    }

    @Command(name = "status", description = "What runs: the daemon, its ports, its pgs. Exit code 3 when it does not run.",
            footerHeading = "%nExample:%n", footer = "  zenith status")
    static final class Status implements Callable<Integer> {
        private final Cli cli;

        Status(Cli cli) {
            this.cli = cli;
        }

        @Override
        public Integer call() {
            Optional<JsonNode> status = cli.client().statusIfRunning();
            if (status.isEmpty()) {
                cli.out.println("zenith is not running (ZENITH_HOME=" + cli.home().dir() + ")");
                return 3;
            }
            JsonNode st = status.get();
            cli.emit(st, () -> {
                Table.sections(cli, List.of(new Table.Section("zenith (pid " + st.path("pid").asText() + ")")
                        .add("home", st.path("home").asText())
                        .add("REST API", cli.client().baseUrl().orElse("?"))
                        .add("PG port", st.path("pg_port").asText())
                        .add("started", Human.timeAndAgo(st.path("started_at").asText()))
                        .add("storages", st.path("storages").asText())
                        .add("pgs running", st.path("pgs_running").asText() + " of " + st.path("pgs").size())));
                if (st.path("pgs").size() > 0) {
                    cli.out.println();
                    PgCommands.table(cli, st.path("pgs"));
                }
            });
            return 0;
        }
    }

    @Command(name = "logs", description = "Print the daemon's log (zenith.log in ZENITH_HOME).",
            footerHeading = "%nExample:%n", footer = "  zenith logs -f")
    static final class Logs implements Callable<Integer> {
        private final Cli cli;

        @Option(names = {"-f", "--follow"}, description = "keep printing what is appended, until Ctrl-C")
        boolean follow;

        @Option(names = {"-n", "--lines"}, paramLabel = "N", description = "the last N lines (default 50; 0: all)")
        int lines = 50;

        Logs(Cli cli) {
            this.cli = cli;
        }

        @Override
        public Integer call() throws Exception {
            return LogFiles.print(cli, cli.home().logFile(), lines, follow);
        }
    }
}
