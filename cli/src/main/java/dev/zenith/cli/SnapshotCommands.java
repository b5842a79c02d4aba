package dev.zenith.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;

import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.List;

/** {@code zenith snapshot ...}: named points of a pg's history (PG@NAME). */
@Command(name = "snapshot", description = "Named points of a pg's history: PG@NAME.",
        footerHeading = "%nExamples:%n", footer = {"  zenith snapshot create main@before-migration",
        "  zenith snapshot create main@noon --time 'today 12:00'", "  zenith snapshot diff main@a main@b"})
final class SnapshotCommands implements Runnable {
    private final Cli cli;

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    SnapshotCommands(Cli cli) {
        this.cli = cli;
    }

    @Override
    public void run() {
        throw Args.needsSubcommand(spec);
    }

    private String path(String text) {
        return "/snapshots/" + URLEncoder.encode(Points.snapshot(text, null, cli.client()), StandardCharsets.UTF_8);
    }

    @Command(name = "create", description = "Name a point of a pg's history: now, or --lsn/--time/--at.",
            footerHeading = "%nExamples:%n", footer = {"  zenith snapshot create main@before-migration",
            "  zenith snapshot create main@noon --time 'yesterday 12:00'"})
    int create(@Parameters(paramLabel = "PG@SNAP") String name, @Mixin PointOptions point) {
        ObjectNode body = DaemonClient.JSON.createObjectNode().put("name", name);
        point.putInto(body, cli.clock());
        JsonNode s = point.send(() -> cli.client().put("/snapshots", body));
        cli.emit(s, () -> {
            cli.out.println("snapshot " + s.path("name").asText() + " at " + s.path("lsn").asText());
            point.describe(cli, s);
        });
        return 0;
    }

    @Command(name = "list", aliases = "ls", description = "Every snapshot, sorted by name, with what each one alone keeps"
            + " (--remote: those pushed to a remote).",
            footerHeading = "%nExamples:%n", footer = {"  zenith snapshot list", "  zenith snapshot list --remote team"})
    int list(@picocli.CommandLine.Option(names = "--remote", paramLabel = "REMOTE",
            description = "the snapshots pushed to a remote instead") String remote) {
        if (remote != null) {
            JsonNode pushed = cli.client().sendWithProgress("GET", RemoteCommands.path(remote) + "/snapshots", null,
                    new JobProgress(cli, "list " + remote));
            cli.emit(pushed, () -> Table.print(cli, pushed, "name", Table.Column.text("NAME", "name"),
                    Table.Column.text("LSN", "lsn"), Table.Column.bytes("SIZE", "bytes"), Table.Column.ago("PUSHED", "pushed_at"),
                    Table.Column.text("BY", "pushed_by"), Table.Column.text("POSTGRESQL", "pg_version").wide(),
                    Table.Column.text("SYSTEM ID", "system_identifier").wide(), Table.Column.text("TIMELINE", "timeline_id").wide()));
            return 0;
        }
        JsonNode list = cli.client().get("/snapshots");
        cli.emit(list, () -> Table.print(cli, list, "name", Table.Column.text("NAME", "name"),
                Table.Column.text("LSN", "lsn"), Table.Column.time("LAST COMMIT", "commit_time"),
                Table.Column.ago("CREATED", "created_at"), Table.Column.bytes("KEEPS", "retains_bytes"),
                Table.Column.text("PARENT", "parent").wide(), Table.Column.text("TIMELINE", "timeline_id").wide(),
                Table.Column.text("STORAGE", "storage_name").wide()));
        return 0;
    }

    @Command(name = "show", description = "One snapshot.", footerHeading = "%nExample:%n", footer = "  zenith snapshot show main@HEAD1")
    int show(@Parameters(paramLabel = "PG@SNAP") String name) {
        JsonNode s = cli.client().get(path(name));
        cli.emit(s, () -> Table.sections(cli, List.of(new Table.Section("snapshot " + s.path("name").asText())
                .add("LSN", s.path("lsn").asText()).add("last commit", Human.time(Table.text(s.get("commit_time"))))
                .add("created", Human.timeAndAgo(s.path("created_at").asText()))
                .add("parent", Table.text(s.get("parent"))).add("storage", s.path("storage_name").asText())
                .add("keeps", Human.bytes(s.path("retains_bytes").asLong()) + " (WAL "
                        + Human.bytes(s.path("retains_wal_bytes").asLong()) + ", pages "
                        + Human.bytes(s.path("retains_page_bytes").asLong()) + ")")
                .add("timeline", s.path("timeline_id").asText()))));
        return 0;
    }

    @Command(name = "destroy", description = "Forget a snapshot (gc may then free what only it kept).",
            footerHeading = "%nExample:%n", footer = "  zenith snapshot destroy main@before-migration")
    int destroy(@Parameters(paramLabel = "PG@SNAP") String name) {
        JsonNode s = cli.client().delete(path(name));
        cli.emit(s, () -> cli.out.println("snapshot " + s.path("name").asText() + " destroyed"));
        return 0;
    }

    @Command(name = "export", description = "Write a snapshot out: a base backup (a data directory, or FILE.tar /"
            + " FILE.tar.zst) that pg_verifybackup checks and PostgreSQL 15 starts on, or --format dump: pg_dump -Fc files.",
            footerHeading = "%nExamples:%n", footer = {"  zenith snapshot export main@noon --to /backups/noon",
            "  zenith snapshot export main@noon --to noon.tar.zst", "  zenith snapshot export main@noon --format dump --to dumps/"})
    int export(@Parameters(paramLabel = "PG@SNAP") String name,
               @picocli.CommandLine.Option(names = "--to", required = true, paramLabel = "PATH",
                       description = "a new path (or an empty directory), written by the daemon") String to,
               @picocli.CommandLine.Option(names = "--format", paramLabel = "FORMAT", defaultValue = "backup",
                       description = "backup (default) or dump") String format) {
        String snapshot = Points.snapshot(name, null, cli.client());
        ObjectNode body = DaemonClient.JSON.createObjectNode().put("action", "export")
                .put("to", cli.absolute(to)).put("format", format);
        JsonNode e = cli.client().sendWithProgress("POST", path(snapshot) + "/actions", body,
                new JobProgress(cli, "export " + snapshot));
        cli.emit(e, () -> cli.out.println("snapshot " + e.path("snapshot").asText() + " (" + e.path("lsn").asText()
                + ") exported as " + e.path("format").asText() + " to " + e.path("to").asText()));
        return 0;
    }

    @Command(name = "import", description = "Bring in a PostgreSQL 15 cluster as the history of a new or empty storage,"
            + " with snapshot PG@SNAP at its end: from a running server (basebackup://USER@HOST:PORT[/DB], a base backup"
            + " with its WAL; the password from PGPASSWORD or ~/.pgpass), a stopped data directory, pg_basebackup -Ft"
            + " output (base.tar[.gz|.zst] with pg_wal.tar beside it) or a pg_dump file (.sql, or .custom/.dump).",
            footerHeading = "%nExamples:%n", footer = {"  zenith snapshot import prod@monday -s prod --from basebackup://replicator@db1:5432",
            "  zenith snapshot import old@last -s old --from /var/lib/postgresql/15/main",
            "  zenith snapshot import app@dump -s app --from app.custom",
            "  zenith pg create app-copy --snapshot app@dump"})
    int importSnapshot(@Parameters(paramLabel = "PG@SNAP") String name,
                       @picocli.CommandLine.Option(names = {"-s", "--storage"}, required = true, paramLabel = "STORAGE",
                               description = "a new storage (made under ZENITH_HOME/storages) or an empty one") String storage,
                       @picocli.CommandLine.Option(names = "--from", required = true, paramLabel = "SOURCE",
                               description = "basebackup://USER@HOST:PORT[/DB], DATADIR, BACKUP.tar[.gz|.zst], DUMP.sql or DUMP.custom")
                       String from) {
        ObjectNode body = DaemonClient.JSON.createObjectNode().put("snapshot", name).put("storage", storage);
        if (from.startsWith("basebackup://")) {
            body.put("from", from);
            ImportUrls.password(from, cli.invocation).ifPresent(p -> body.put("password", p));
        } else {
            body.put("from", cli.absolute(from));
        }
        JsonNode i = cli.client().sendWithProgress("POST", "/imports", body, new JobProgress(cli, "import " + name));
        cli.emit(i, () -> cli.out.println("imported " + i.path("from").asText() + " as snapshot " + i.path("snapshot").asText()
                + " (" + i.path("lsn").asText() + ") of " + (i.path("storage_created").asBoolean() ? "new " : "") + "storage "
                + i.path("storage").asText() + "; branch it: zenith pg create NAME --snapshot " + i.path("snapshot").asText()));
        return 0;
    }

    @Command(name = "push", description = "Send a snapshot to a remote: what a branch at it needs, only what the remote lacks,"
            + " its name last.", footerHeading = "%nExample:%n", footer = "  zenith snapshot push main@noon --to team")
    int push(@Parameters(paramLabel = "PG@SNAP") String name,
             @picocli.CommandLine.Option(names = "--to", required = true, paramLabel = "REMOTE") String remote,
             @picocli.CommandLine.Option(names = "--force", description = "replace the remote's snapshot of that name") boolean force) {
        ObjectNode body = DaemonClient.JSON.createObjectNode().put("action", "push").put("remote", remote);
        if (force) {
            body.put("force", true);
        }
        JsonNode p = cli.client().sendWithProgress("POST", path(name) + "/actions", body, new JobProgress(cli, "push " + name));
        p.path("warnings").forEach(w -> cli.err.println("warning: " + w.asText()));
        cli.emit(p, () -> cli.out.println("snapshot " + p.path("snapshot").asText() + " (" + p.path("lsn").asText() + ") pushed to "
                + p.path("remote").asText() + ": " + Human.bytes(p.path("bytes_sent").asLong()) + " sent, "
                + Human.bytes(p.path("bytes_skipped").asLong()) + " the remote had"));
        return 0;
    }

    @Command(name = "pull", description = "Bring a snapshot in from a remote, into a storage (made when missing);"
            + " then branch it with pg create.", footerHeading = "%nExamples:%n",
            footer = {"  zenith snapshot pull main@noon --from team", "  zenith snapshot pull main@noon --from team -s shared",
            "  zenith pg create test main@noon"})
    int pull(@Parameters(paramLabel = "PG@SNAP") String name,
             @picocli.CommandLine.Option(names = "--from", required = true, paramLabel = "REMOTE") String remote,
             @picocli.CommandLine.Option(names = {"-s", "--storage"}, paramLabel = "STORAGE",
                     description = "the storage to hold it (default: local)") String storage) {
        ObjectNode body = DaemonClient.JSON.createObjectNode().put("action", "pull");
        if (storage != null) {
            body.put("storage", storage);
        }
        JsonNode p = cli.client().sendWithProgress("POST", RemoteCommands.path(remote) + "/snapshots/"
                + URLEncoder.encode(name, StandardCharsets.UTF_8) + "/actions", body, new JobProgress(cli, "pull " + name));
        p.path("warnings").forEach(w -> cli.err.println("warning: " + w.asText()));
        cli.emit(p, () -> cli.out.println("snapshot " + p.path("snapshot").asText() + " (" + p.path("lsn").asText() + ") "
                + ("already here".equals(p.path("status").asText()) ? "was already here" : "pulled from " + remote)
                + " into storage " + p.path("storage_name").asText() + "; branch it: zenith pg create NAME " + p.path("snapshot").asText()));
        return 0;
    }

    @Command(name = "diff", description = "Pages and bytes changed between two points.",
            footerHeading = "%nExample:%n", footer = "  zenith snapshot diff main@HEAD1 main@before-migration")
    int diff(@Parameters(index = "0", paramLabel = "PG@A") String a, @Parameters(index = "1", paramLabel = "PG@B") String b) {
        String from = Points.snapshot(a, null, cli.client());
        String to = Points.snapshot(b, null, cli.client());
        JsonNode d = cli.client().get("/snapshot-diff?from=" + URLEncoder.encode(from, StandardCharsets.UTF_8) + "&to="
                + URLEncoder.encode(to, StandardCharsets.UTF_8));
        cli.emit(d, () -> Table.object(cli, "diff " + from + " .. " + to, d));
        return 0;
    }
}
