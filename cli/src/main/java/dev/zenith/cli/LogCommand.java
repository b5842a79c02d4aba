package dev.zenith.cli;

import com.fasterxml.jackson.databind.JsonNode;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Callable;

/**
 * {@code zenith log PG}: the pg's history newest first, as git log shows commits: commits (time, LSN,
 * xid), snapshots, checkouts (the HEADn they left), branches, clean stops, the retention horizon.
 */
@Command(name = "log", description = "A pg's history, newest first: commits, snapshots, checkouts, branches, stops.",
        footerHeading = "%nExamples:%n", footer = {"  zenith log main", "  zenith log main --oneline --since '1h ago'",
        "  zenith log main --json -n 500"})
final class LogCommand implements Callable<Integer> {
    private final Cli cli;

    @Parameters(arity = "0..1", paramLabel = "PG")
    String pg;

    @Option(names = "--name", paramLabel = "PG", hidden = true)
    String nameOpt;

    @Option(names = "--oneline", description = "one line per entry")
    boolean oneline;

    @Option(names = "--since", paramLabel = "WHEN", description = "entries at or after this time (" + When.FORMS + ")")
    String since;

    @Option(names = "--until", paramLabel = "WHEN", description = "entries before this time")
    String until;

    @Option(names = {"-n", "--max-count"}, paramLabel = "N", description = "at most N entries (default 50)")
    int limit = 50;

    LogCommand(Cli cli) {
        this.cli = cli;
    }

    @Override
    public Integer call() {
        String name = PgCommands.name(pg, nameOpt, "zenith log main");
        StringBuilder q = new StringBuilder(PgCommands.path(name) + "/log?limit=" + limit);
        if (since != null) {
            q.append("&since=").append(URLEncoder.encode(When.parse(since, cli.clock()).iso(), StandardCharsets.UTF_8));
        }
        if (until != null) {
            q.append("&until=").append(URLEncoder.encode(When.parse(until, cli.clock()).iso(), StandardCharsets.UTF_8));
        }
        JsonNode log = cli.client().get(q.toString());
        cli.emit(log, () -> print(log));
        return 0;
    }

    private void print(JsonNode log) {
        for (JsonNode e : log.path("entries")) {
            String kind = e.path("kind").asText();
            String lsn = e.path("lsn").asText();
            String time = Human.time(e.path("time").asText());
            String what = switch (kind) {
                case "commit" -> "commit" + (e.hasNonNull("xid") ? " xid " + e.path("xid").asText() : "");
                case "snapshot" -> "snapshot " + e.path("name").asText();
                default -> e.path("text").asText(kind);
            };
            if (oneline) {
                cli.out.println(String.format("%-11s  %s  %s", lsn, time, colour(kind, what)));
            } else {
                cli.out.println(colour(kind, kind + " " + lsn));
                cli.out.println("Date:  " + Human.timeAndAgo(e.path("time").asText()));
                if (!kind.equals("commit")) {
                    cli.out.println("       " + what);
                } else if (e.hasNonNull("xid")) {
                    cli.out.println("Xid:   " + e.path("xid").asText());
                }
                cli.out.println();
            }
        }
        if (log.hasNonNull("retention_horizon")) {
            cli.out.println(cli.styled("faint", "history before " + log.path("retention_horizon").asText()
                    + " is gone (retention horizon)"));
        }
        if (log.hasNonNull("next_until")) {
            cli.out.println(cli.styled("faint", "more: zenith log " + log.path("pg").asText() + " --until "
                    + log.path("next_until").asText()));
        }
    }

    private String colour(String kind, String text) {
        return switch (kind) {
            case "commit" -> cli.styled("yellow", text);
            case "snapshot", "checkout" -> cli.styled("green", text);
            case "branch", "branched_from" -> cli.styled("cyan", text);
            default -> text;
        };
    }
}
