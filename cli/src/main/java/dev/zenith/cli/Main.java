package dev.zenith.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.zenith.wal.dump.WalDumpCommand;

import java.io.PrintStream;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The {@code zenith} command: turns commands into REST calls and prints tables (or the JSON with
 * {@code --json}). Errors go to stderr with a non-zero exit code.
 */
public final class Main {
    private static final String USAGE = """
            usage: zenith COMMAND [options]   (add --json for JSON output)

              start [--foreground]          start the daemon (state in ZENITH_HOME, default ./.zenith)
              stop                          stop computes cleanly, then the daemon
              status                        what runs

              storage attach -n NAME --path DIR [--type native] [--pitr 7d]
              storage gc -n NAME [--pitr DURATION]   free history outside the PITR window, snapshots, branches
              storage detach -n NAME
              storage list
              storage show -n NAME

              pg create -n NAME [-s STORAGE] [--no-start]
              pg create -n NAME --snapshot PG@SNAP [--read-only] [--no-start]
              pg create -n NAME --from PG [--lsn LSN | --time ISO-8601] [--read-only] [--no-start]
              pg checkout -n NAME (PG@SNAP | --lsn LSN | --time ISO-8601)
              pg start -n NAME [--replica]      a replica is a hot standby streaming from us
              pg stop -n NAME
              pg promote -n NAME                a replica becomes the primary (its primary stopped)
              pg destroy -n NAME
              pg list
              pg show -n NAME

              snapshot create PG@SNAP [--lsn LSN | --time ISO-8601]
              snapshot list
              snapshot show PG@SNAP
              snapshot destroy PG@SNAP
              snapshot diff PG@A PG@B           pages and bytes changed between two points

              waldump FILE...               print WAL records like pg_waldump (no daemon needed)
            """;

    private final PrintStream out;
    private final PrintStream err;

    public Main(PrintStream out, PrintStream err) {
        this.out = out;
        this.err = err;
    }

    public static void main(String[] argv) {
        System.exit(new Main(System.out, System.err).run(List.of(argv)));
    }

    /** Runs one command; returns the exit code. */
    public int run(List<String> argv) {
        try {
            return dispatch(argv);
        } catch (CliException e) {
            err.println("zenith: " + e.getMessage());
            return e.exitCode();
        } catch (Exception e) {
            err.println("zenith: " + (e.getMessage() == null ? e.toString() : e.getMessage()));
            return 1;
        }
    }

    private int dispatch(List<String> argv) throws Exception {
        if (argv.isEmpty() || argv.get(0).equals("help") || argv.get(0).equals("--help") || argv.get(0).equals("-h")) {
            out.print(USAGE);
            return argv.isEmpty() ? 2 : 0;
        }
        String cmd = argv.get(0);
        List<String> rest = argv.subList(1, argv.size());
        if (cmd.equals("waldump")) {
            return waldump(rest);
        }
        Home home = Home.resolve();
        DaemonClient client = new DaemonClient(home);
        DaemonLauncher launcher = new DaemonLauncher(home, client, out);
        switch (cmd) {
            case "start" -> {
                Args a = Args.parse(rest, Set.of(), Set.of("foreground", "json"), Map.of()).noPositional();
                return launcher.start(a.flag("foreground"));
            }
            case "stop" -> {
                Args.parse(rest, Set.of(), Set.of("json"), Map.of()).noPositional();
                return launcher.stop();
            }
            case "status" -> {
                Args a = Args.parse(rest, Set.of(), Set.of("json"), Map.of()).noPositional();
                Optional<JsonNode> status = client.statusIfRunning();
                if (status.isEmpty()) {
                    out.println("zenith is not running (ZENITH_HOME=" + home.dir() + ")");
                    return 3;
                }
                JsonNode st = status.get();
                if (a.flag("json")) {
                    out.println(st.toPrettyString());
                } else {
                    Table.printObject(out, without(st, "pgs"));
                    if (st.has("pgs") && st.get("pgs").size() > 0) {
                        out.println();
                        Table.print(out, st.get("pgs"), "name", "storage_name", "status", "port", "last_lsn");
                    }
                }
                return 0;
            }
            case "storage" -> {
                return storage(client, rest);
            }
            case "pg" -> {
                return pg(client, rest);
            }
            case "snapshot" -> {
                return snapshot(client, rest);
            }
            default -> throw new CliException("unknown command '" + cmd + "' (see: zenith help)", 2);
        }
    }

    private int storage(DaemonClient client, List<String> argv) {
        if (argv.isEmpty()) {
            throw new CliException("storage needs a subcommand: attach, detach, list, show, gc", 2);
        }
        Args a = Args.parse(argv.subList(1, argv.size()), Set.of("name", "type", "path", "pitr"), Set.of("json"),
                Map.of("n", "name", "t", "type", "p", "path")).noPositional();
        boolean json = a.flag("json");
        switch (argv.get(0)) {
            case "attach" -> {
                ObjectNode body = DaemonClient.JSON.createObjectNode().put("name", a.require("name", "storage name"))
                        .put("type", a.get("type") == null ? "native" : a.get("type"));
                putIfGiven(body, "path", absolute(a.get("path")));
                putIfGiven(body, "pitr", a.get("pitr"));
                return show(json, client.put("/storages", body));
            }
            case "detach" -> {
                return show(json, client.delete("/storages/" + a.require("name", "storage name")));
            }
            case "gc" -> {
                ObjectNode body = DaemonClient.JSON.createObjectNode();
                putIfGiven(body, "pitr", a.get("pitr"));
                return show(json, client.post("/storages/" + a.require("name", "storage name") + "/gc",
                        body.isEmpty() ? null : body));
            }
            case "list" -> {
                JsonNode list = client.get("/storages");
                if (json) {
                    out.println(list.toPrettyString());
                } else {
                    Table.print(out, list, "name", "type", "status", "pitr", "path");
                }
                return 0;
            }
            case "show" -> {
                return show(json, client.get("/storages/" + a.require("name", "storage name")));
            }
            default -> throw new CliException("unknown storage subcommand '" + argv.get(0) + "'", 2);
        }
    }

    private int pg(DaemonClient client, List<String> argv) {
        if (argv.isEmpty()) {
            throw new CliException("pg needs a subcommand: create, start, stop, promote, checkout, destroy, list, show", 2);
        }
        Args a = Args.parse(argv.subList(1, argv.size()), Set.of("name", "storage", "snapshot", "from", "lsn", "time"),
                Set.of("json", "no-start", "read-only", "replica"), Map.of("n", "name", "s", "storage"));
        if (!argv.get(0).equals("checkout")) {
            a.noPositional();
        }
        boolean json = a.flag("json");
        switch (argv.get(0)) {
            case "create" -> {
                ObjectNode body = DaemonClient.JSON.createObjectNode().put("name", a.require("name", "pg name"));
                if (a.get("storage") != null) {
                    body.put("storage_name", a.get("storage"));
                }
                if (a.flag("no-start")) {
                    body.put("start", false);
                }
                putIfGiven(body, "snapshot", a.get("snapshot"));
                putIfGiven(body, "from", a.get("from"));
                putIfGiven(body, "lsn", a.get("lsn"));
                putIfGiven(body, "time", a.get("time"));
                if (a.flag("read-only")) {
                    body.put("read_only", true);
                }
                JsonNode pg = client.put("/pgs", body);
                if (json) {
                    out.println(pg.toPrettyString());
                } else {
                    out.println("pg " + pg.path("name").asText() + " created on storage " + pg.path("storage_name").asText()
                            + " (" + pg.path("status").asText() + ")");
                    if ("running".equals(pg.path("status").asText())) {
                        out.println("connect with:  psql '" + pg.path("connstr").asText() + "'");
                    }
                }
                return 0;
            }
            case "start", "stop", "promote" -> {
                ObjectNode body = DaemonClient.JSON.createObjectNode().put("action", argv.get(0));
                if (a.flag("replica")) {
                    body.put("is_replica", true);
                }
                JsonNode pg = client.post("/pgs/" + a.require("name", "pg name") + "/actions", body);
                if (json) {
                    out.println(pg.toPrettyString());
                } else {
                    out.println("pg " + pg.path("name").asText() + " " + pg.path("status").asText()
                            + ("running".equals(pg.path("status").asText()) ? "; connect with:  psql '"
                            + pg.path("connstr").asText() + "'" : ""));
                }
                return 0;
            }
            case "checkout" -> {
                ObjectNode body = DaemonClient.JSON.createObjectNode().put("action", "checkout");
                if (a.positional().size() > 1) {
                    throw new CliException("checkout takes one snapshot, got " + a.positional());
                }
                putIfGiven(body, "snapshot", a.positional().isEmpty() ? null : a.positional().get(0));
                putIfGiven(body, "lsn", a.get("lsn"));
                putIfGiven(body, "time", a.get("time"));
                JsonNode pg = client.post("/pgs/" + a.require("name", "pg name") + "/actions", body);
                if (json) {
                    out.println(pg.toPrettyString());
                } else {
                    out.println("pg " + pg.path("name").asText() + " now at " + pg.path("source").asText() + " ("
                            + pg.path("status").asText() + "); the state it left is snapshot " + pg.path("saved_as").asText());
                    if (pg.path("branch").has("note")) {
                        out.println("note: " + pg.path("branch").path("note").asText());
                    }
                }
                return 0;
            }
            case "destroy" -> {
                return show(json, client.delete("/pgs/" + a.require("name", "pg name")));
            }
            case "list" -> {
                JsonNode list = client.get("/pgs");
                if (json) {
                    out.println(list.toPrettyString());
                } else {
                    Table.print(out, list, "name", "storage_name", "status", "role", "port", "timeline_id", "last_lsn", "connstr");
                }
                return 0;
            }
            case "show" -> {
                return show(json, client.get("/pgs/" + a.require("name", "pg name")));
            }
            default -> throw new CliException("unknown pg subcommand '" + argv.get(0) + "'", 2);
        }
    }

    private int snapshot(DaemonClient client, List<String> argv) {
        if (argv.isEmpty()) {
            throw new CliException("snapshot needs a subcommand: create, list, show, destroy, diff", 2);
        }
        Args a = Args.parse(argv.subList(1, argv.size()), Set.of("lsn", "time"), Set.of("json"), Map.of());
        boolean json = a.flag("json");
        switch (argv.get(0)) {
            case "create" -> {
                ObjectNode body = DaemonClient.JSON.createObjectNode().put("name", onlyName(a, "PG@SNAP"));
                putIfGiven(body, "lsn", a.get("lsn"));
                putIfGiven(body, "time", a.get("time"));
                JsonNode s = client.put("/snapshots", body);
                if (json) {
                    out.println(s.toPrettyString());
                } else {
                    out.println("snapshot " + s.path("name").asText() + " at " + s.path("lsn").asText());
                    if (s.has("note")) {
                        out.println("note: " + s.path("note").asText());
                    }
                }
                return 0;
            }
            case "list" -> {
                a.noPositional();
                JsonNode list = client.get("/snapshots");
                if (json) {
                    out.println(list.toPrettyString());
                } else {
                    Table.print(out, list, "name", "lsn", "commit_time", "created_at", "retains_bytes", "timeline_id");
                }
                return 0;
            }
            case "show" -> {
                return show(json, client.get("/snapshots/" + onlyName(a, "PG@SNAP")));
            }
            case "destroy" -> {
                return show(json, client.delete("/snapshots/" + onlyName(a, "PG@SNAP")));
            }
            case "diff" -> {
                if (a.positional().size() != 2) {
                    throw new CliException("snapshot diff takes two snapshots, got " + a.positional());
                }
                return show(json, client.get("/snapshot-diff?from=" + encode(a.positional().get(0)) + "&to="
                        + encode(a.positional().get(1))));
            }
            default -> throw new CliException("unknown snapshot subcommand '" + argv.get(0) + "'", 2);
        }
    }

    private static String onlyName(Args a, String what) {
        if (a.positional().size() != 1) {
            throw new CliException("expected one " + what + ", got " + a.positional());
        }
        return a.positional().get(0);
    }

    private static String encode(String s) {
        return java.net.URLEncoder.encode(s, java.nio.charset.StandardCharsets.UTF_8);
    }

    /** A path as the user meant it: relative to where they run zenith, not to where the daemon runs. */
    static String absolute(String path) {
        if (path == null || path.isBlank()) {
            return path; // the daemon says what is missing
        }
        try {
            return Path.of(path).toAbsolutePath().normalize().toString();
        } catch (InvalidPathException e) {
            throw new CliException("'" + path + "' is not a path: " + e.getReason(), 2);
        }
    }

    private static void putIfGiven(ObjectNode body, String field, String value) {
        if (value != null) {
            body.put(field, value);
        }
    }

    private int show(boolean json, JsonNode obj) {
        if (json) {
            out.println(obj.toPrettyString());
        } else {
            Table.printObject(out, obj);
        }
        return 0;
    }

    /** Reads segment files directly: no daemon needed. */
    private int waldump(List<String> files) {
        return WalDumpCommand.run(files, out, err);
    }

    private static JsonNode without(JsonNode obj, String... fields) {
        ObjectNode copy = ((ObjectNode) obj).deepCopy();
        copy.remove(Arrays.asList(fields));
        return copy;
    }
}
