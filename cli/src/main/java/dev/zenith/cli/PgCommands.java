package dev.zenith.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** {@code zenith pg ...}: PostgreSQL compute nodes. Names are positional (as in git); -n still works. */
@Command(name = "pg", subcommands = ConnectCommand.class, description = "PostgreSQL nodes: create, branch, start, stop, check out earlier states.",
        footerHeading = "%nExamples:%n", footer = {"  zenith pg create main", "  zenith pg create dev main@before-migration",
        "  zenith pg create rep --replica-of main", "  zenith pg checkout main HEAD~1", "  zenith pg connect main -- -c 'select 1'"})
final class PgCommands implements Runnable {
    private final Cli cli;

    PgCommands(Cli cli) {
        this.cli = cli;
    }

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        throw Args.needsSubcommand(spec);
    }

    static String name(String positional, String option, String example) {
        return Args.name("pg", positional, option, example);
    }

    static String path(String name) {
        return "/pgs/" + java.net.URLEncoder.encode(name, java.nio.charset.StandardCharsets.UTF_8);
    }

    @Command(name = "create", description = "Create a pg: a new database, or a branch of a snapshot or of a pg's history.",
            footerHeading = "%nExamples:%n", footer = {"  zenith pg create main", "  zenith pg create dev main@before-migration",
            "  zenith pg create dev main --time '10m ago'", "  zenith pg create probe main@HEAD~1 --read-only",
            "  zenith pg create rep --replica-of main"})
    int create(@Parameters(arity = "0..2", paramLabel = "NAME [SOURCE]",
                       description = "the new pg's name, then where it branches from: PG (its present), PG@SNAP,"
                               + " PG@HEAD~1, PG@CURRENT") List<String> args,
               @Option(names = {"-n", "--name"}, paramLabel = "NAME", description = "the new pg's name") String nameOpt,
               @Option(names = {"-s", "--storage"}, paramLabel = "STORAGE", description = "its storage (default: local)") String storage,
               @Option(names = "--snapshot", paramLabel = "PG@SNAP", description = "branch from this snapshot") String snapshot,
               @Option(names = "--from", paramLabel = "PG", description = "branch from this pg's history (now, or --lsn/--time)") String from,
               @Mixin PointOptions point,
               @Option(names = "--read-only", description = "a read-only node at that point") boolean readOnly,
               @Option(names = "--replica-of", paramLabel = "PG", description = "a replica (hot standby) of PG: it follows"
                       + " PG's present history, across PG's checkouts") String replicaOf,
               @Option(names = "--no-start", description = "create it stopped") boolean noStart) {
        List<String> positional = args == null ? List.of() : args;
        String name = nameOpt != null ? nameOpt : positional.isEmpty() ? null : positional.get(0);
        List<String> rest = nameOpt != null ? positional : positional.subList(Math.min(1, positional.size()), positional.size());
        if (rest.size() > 1) {
            throw new CliException("too many arguments: " + rest + " (one source at most)", 2);
        }
        name = name(name, null, "zenith pg create main");
        ObjectNode body = DaemonClient.JSON.createObjectNode().put("name", name);
        if (replicaOf != null && (!rest.isEmpty() || snapshot != null || from != null || point.given() || readOnly)) {
            throw new CliException("a replica follows " + replicaOf + "'s present: give --replica-of alone, without a source,"
                    + " --snapshot, --from, --lsn/--time/--at or --read-only", 2);
        }
        putIfGiven(body, "replica_of", replicaOf);
        if (!rest.isEmpty()) {
            if (snapshot != null || from != null) {
                throw new CliException("give the source once: as an argument or with --snapshot/--from", 2);
            }
            Points.Point p = Points.parse(rest.get(0), null, cli.client());
            snapshot = p.snapshot();
            from = p.presentOf();
        } else if (snapshot != null) {
            snapshot = Points.snapshot(snapshot, null, cli.client());
        }
        if (snapshot != null && from != null) {
            throw new CliException("give --snapshot or --from, not both", 2);
        }
        if (point.given() && from == null) {
            throw new CliException(snapshot != null ? "a snapshot is already a point: drop --lsn/--time/--at"
                    : "--lsn/--time/--at need a pg to branch from, e.g.: zenith pg create dev main --time '10m ago'", 2);
        }
        if (readOnly && snapshot == null && from == null) {
            throw new CliException("--read-only needs a point: a snapshot, or a pg (with --lsn/--time)", 2);
        }
        putIfGiven(body, "storage_name", storage);
        putIfGiven(body, "snapshot", snapshot);
        putIfGiven(body, "from", from);
        point.putInto(body, cli.clock());
        if (readOnly) {
            body.put("read_only", true);
        }
        if (noStart) {
            body.put("start", false);
        }
        JsonNode pg = point.send(() -> cli.client().sendWithProgress("PUT", "/pgs", body,
                new JobProgress(cli, "create " + body.path("name").asText())));
        cli.emit(pg, () -> {
            String src = pg.hasNonNull("replica_of") ? " as a replica of " + pg.path("replica_of").asText()
                    : pg.hasNonNull("source") ? " from " + pg.path("source").asText() : "";
            cli.out.println("pg " + pg.path("name").asText() + " created on storage " + pg.path("storage_name").asText()
                    + src + " (" + cli.status(pg.path("status").asText()) + ")");
            point.describe(cli, pg.path("branch"));
            connectHint(cli, pg);
        });
        return 0;
    }

    static void connectHint(Cli cli, JsonNode pg) {
        if ("running".equals(pg.path("status").asText())) {
            cli.out.println("connect with:  zenith pg connect " + pg.path("name").asText() + "   or  psql '"
                    + pg.path("connstr").asText() + "'");
        }
    }

    private int action(String name, String action, ObjectNode extra) {
        ObjectNode body = DaemonClient.JSON.createObjectNode().put("action", action);
        if (extra != null) {
            body.setAll(extra);
        }
        JsonNode pg = cli.client().sendWithProgress("POST", path(name) + "/actions", body, new JobProgress(cli, action + " " + name));
        cli.emit(pg, () -> {
            cli.out.println("pg " + pg.path("name").asText() + " " + cli.status(pg.path("status").asText())
                    + ("running".equals(pg.path("status").asText()) ? "; connect with:  psql '" + pg.path("connstr").asText() + "'" : ""));
            replicasMoved(cli, pg);
        });
        return 0;
    }

    /** What became of the replicas of a pg that moved to another history (a checkout, a forked start). */
    static void replicasMoved(Cli cli, JsonNode pg) {
        String leader = pg.path("name").asText();
        for (JsonNode r : pg.path("replicas")) {
            String how = r.path("how").asText();
            cli.out.println("  replica " + r.path("name").asText() + ": " + switch (how) {
                case "followed" -> "follows it onto the new timeline (as a standby follows a promotion)";
                case "rebuilt" -> "rebuilt from the store at " + leader + "'s new history (PostgreSQL cannot go back in its own)";
                case "moved (stopped)" -> "stopped; it starts at " + leader + "'s new history";
                default -> how;
            });
        }
    }

    /** A pg's role for people: {@code primary}, {@code read_only}, {@code replica}, {@code replica of main}. */
    static String role(JsonNode pg) {
        return pg.hasNonNull("replica_of") ? "replica of " + pg.path("replica_of").asText() : pg.path("role").asText();
    }

    @Command(name = "start", description = "Start a pg (as it last ran: primary, replica or read-only).",
            footerHeading = "%nExample:%n", footer = "  zenith pg start main")
    int start(@Parameters(arity = "0..1", paramLabel = "PG") String pg,
              @Option(names = {"-n", "--name"}, paramLabel = "PG") String nameOpt,
              @Option(names = "--replica", description = "as a hot standby streaming from the store") boolean replica,
              @Option(names = "--force", description = "a primary whose history a promotion superseded: fork it onto a"
                      + " branch of its own at its end") boolean force) {
        ObjectNode extra = DaemonClient.JSON.createObjectNode();
        if (replica) {
            extra.put("is_replica", true);
        }
        if (force) {
            extra.put("force", true);
        }
        return action(name(pg, nameOpt, "zenith pg start main"), "start", extra);
    }

    @Command(name = "stop", description = "Stop a pg cleanly (fast shutdown); its data stays in the store.",
            footerHeading = "%nExample:%n", footer = "  zenith pg stop main")
    int stop(@Parameters(arity = "0..1", paramLabel = "PG") String pg,
             @Option(names = {"-n", "--name"}, paramLabel = "PG") String nameOpt) {
        return action(name(pg, nameOpt, "zenith pg stop main"), "stop", null);
    }

    @Command(name = "promote", description = "Make a replica the primary (its primary stopped).",
            footerHeading = "%nExample:%n", footer = "  zenith pg promote rep")
    int promote(@Parameters(arity = "0..1", paramLabel = "PG") String pg,
                @Option(names = {"-n", "--name"}, paramLabel = "PG") String nameOpt) {
        return action(name(pg, nameOpt, "zenith pg promote rep"), "promote", null);
    }

    @Command(name = "checkout", description = {"Move a pg to an earlier point of its history, or to a snapshot.",
            "The state it leaves is kept as PG@HEADn: `zenith pg checkout main HEAD~1` goes back there."},
            footerHeading = "%nExamples:%n", footer = {"  zenith pg checkout main main@before-migration",
            "  zenith pg checkout main --time '2026-12-06 03:17'", "  zenith pg checkout main HEAD~1"})
    int checkout(@Parameters(arity = "0..2", paramLabel = "PG [TARGET]",
                         description = "the pg, then where to: PG@SNAP, SNAP of this pg, HEAD1, HEAD~1, HEAD@{1}") List<String> args,
                 @Option(names = {"-n", "--name"}, paramLabel = "PG") String nameOpt,
                 @Mixin PointOptions point,
                 @Option(names = {"-y", "--yes", "--force"}, description = "go ahead though a running pg's sessions end") boolean yes) {
        List<String> positional = args == null ? List.of() : args;
        String name = nameOpt != null ? nameOpt : positional.isEmpty() ? null : positional.get(0);
        List<String> rest = nameOpt != null ? positional : positional.subList(Math.min(1, positional.size()), positional.size());
        name = name(name, null, "zenith pg checkout main main@before-migration");
        if (rest.size() > 1) {
            throw new CliException("checkout takes one target, got " + rest, 2);
        }
        if (rest.isEmpty() == !point.given()) {
            throw new CliException("pg checkout needs one point: a snapshot (zenith pg checkout " + name
                    + " " + name + "@SNAP), or --lsn, --time or --at", 2);
        }
        ObjectNode body = DaemonClient.JSON.createObjectNode();
        if (!rest.isEmpty()) {
            Points.Point p = Points.parse(rest.get(0), name, cli.client());
            if (p.isPresent()) {
                throw new CliException("'" + rest.get(0) + "' is " + p.presentOf() + "'s present: "
                        + (p.presentOf().equals(name) ? "pg " + name + " is there already"
                        : "check out a snapshot of " + name + ", or branch: zenith pg create NAME " + rest.get(0)), 2);
            }
            body.put("snapshot", p.snapshot());
        }
        point.putInto(body, cli.clock());
        String pgName = name;
        JsonNode before = cli.client().get(path(pgName));
        cli.yes |= yes;
        if ("running".equals(before.path("status").asText())) {
            cli.confirm("pg " + pgName + " is running: the checkout stops it, which ends its sessions");
        }
        body.put("action", "checkout");
        JsonNode pg = point.send(() -> cli.client().sendWithProgress("POST", path(pgName) + "/actions", body,
                new JobProgress(cli, "checkout " + pgName)));
        cli.emit(pg, () -> {
            cli.out.println("pg " + pg.path("name").asText() + " now at " + pg.path("source").asText() + " ("
                    + cli.status(pg.path("status").asText()) + "); the state it left is " + pg.path("saved_as").asText()
                    + " (back with: zenith pg checkout " + pgName + " HEAD~1)");
            point.describe(cli, pg.path("branch"));
            replicasMoved(cli, pg);
        });
        return 0;
    }

    @Command(name = "destroy", description = "Destroy a pg: its node and data directory (snapshots stay).",
            footerHeading = "%nExample:%n", footer = "  zenith pg destroy dev --yes")
    int destroy(@Parameters(arity = "0..1", paramLabel = "PG") String pg,
                @Option(names = {"-n", "--name"}, paramLabel = "PG") String nameOpt,
                @Option(names = {"-y", "--yes", "--force"}, description = "go ahead though it runs") boolean yes) {
        String name = name(pg, nameOpt, "zenith pg destroy dev");
        JsonNode before = cli.client().get(path(name));
        cli.yes |= yes;
        if ("running".equals(before.path("status").asText())) {
            cli.confirm("pg " + name + " is running: destroying it ends its sessions");
        }
        JsonNode gone = cli.client().sendWithProgress("DELETE", path(name), null, new JobProgress(cli, "destroy " + name));
        cli.emit(gone, () -> cli.out.println("pg " + name + " destroyed"));
        return 0;
    }

    @Command(name = "list", aliases = "ls", description = "The pgs, sorted by name (-o wide: every column; --tree: as a tree).",
            footerHeading = "%nExample:%n", footer = "  zenith pg list -o wide")
    int list(@Option(names = "--tree", description = "pgs and snapshots as a tree of branches") boolean tree) {
        if (tree) {
            return TreeCommand.print(cli);
        }
        JsonNode list = cli.client().get("/pgs");
        cli.emit(list, () -> table(cli, list));
        return 0;
    }

    static void table(Cli cli, JsonNode pgs) {
        Table.print(cli, pgs, "name", Table.Column.text("NAME", "name"), Table.Column.status("STATUS", "status"),
                new Table.Column("ROLE", PgCommands::role, false, false), Table.Column.text("PORT", "port"),
                Table.Column.text("STORAGE", "storage_name"), Table.Column.text("LAST LSN", "last_lsn"),
                Table.Column.text("SOURCE", "source"), Table.Column.ago("CREATED", "created_at"),
                Table.Column.text("TIMELINE", "timeline_id").wide(), Table.Column.text("CONNSTR", "connstr").wide(),
                Table.Column.text("PGDATA", "pgdata").wide());
    }

    @Command(name = "show", description = "One pg, in sections.", footerHeading = "%nExample:%n", footer = "  zenith pg show main")
    int show(@Parameters(arity = "0..1", paramLabel = "PG") String pg,
             @Option(names = {"-n", "--name"}, paramLabel = "PG") String nameOpt) {
        JsonNode p = cli.client().get(path(name(pg, nameOpt, "zenith pg show main")));
        cli.emit(p, () -> {
            List<Table.Section> s = new ArrayList<>();
            s.add(new Table.Section("pg " + p.path("name").asText()).add("status", cli.status(p.path("status").asText()))
                    .add("role", role(p)).add("storage", p.path("storage_name").asText())
                    .add("created", Human.timeAndAgo(p.path("created_at").asText())));
            s.add(new Table.Section("connect").add("connstr", p.path("connstr").asText())
                    .add("port", p.path("port").asText()).add("psql", "zenith pg connect " + p.path("name").asText())
                    .add("replication", Table.text(p.get("replication_connstr"))));
            s.add(new Table.Section("history").add("last LSN", p.path("last_lsn").asText())
                    .add("branched from", Table.text(p.get("source"))).add("timeline", p.path("timeline_id").asText())
                    .add("log", "zenith log " + p.path("name").asText()));
            s.add(new Table.Section("files").add("data directory", p.path("pgdata").asText())
                    .add("log file", p.path("logfile").asText()));
            JsonNode rx = p.path("wal_receiver");
            if (rx.isObject()) {
                Table.Section r = new Table.Section("WAL receiver");
                rx.fields().forEachRemaining(e -> r.add(e.getKey().replace('_', ' '), Table.text(e.getValue())));
                s.add(r);
            }
            Table.sections(cli, s);
        });
        return 0;
    }

    @Command(name = "connstr", description = "Print a pg's connection string.",
            footerHeading = "%nExample:%n", footer = "  psql \"$(zenith pg connstr main)\"")
    int connstr(@Parameters(arity = "0..1", paramLabel = "PG") String pg,
                @Option(names = {"-n", "--name"}, paramLabel = "PG") String nameOpt) {
        JsonNode p = cli.client().get(path(name(pg, nameOpt, "zenith pg connstr main")));
        cli.emit(p.path("connstr"), () -> cli.out.println(p.path("connstr").asText()));
        return 0;
    }

    @Command(name = "logs", description = "Print a pg's PostgreSQL log.",
            footerHeading = "%nExample:%n", footer = "  zenith pg logs main -f")
    int logs(@Parameters(arity = "0..1", paramLabel = "PG") String pg,
             @Option(names = {"-n", "--name"}, paramLabel = "PG") String nameOpt,
             @Option(names = {"-f", "--follow"}, description = "keep printing what is appended, until Ctrl-C") boolean follow,
             @Option(names = "--lines", paramLabel = "N", description = "the last N lines (default 50; 0: all)") Integer lines)
            throws Exception {
        JsonNode p = cli.client().get(path(name(pg, nameOpt, "zenith pg logs main")));
        return LogFiles.print(cli, Path.of(p.path("logfile").asText()), lines == null ? 50 : lines, follow);
    }

    static void putIfGiven(ObjectNode body, String field, String value) {
        if (value != null) {
            body.put(field, value);
        }
    }
}
