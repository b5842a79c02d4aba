package dev.zenith.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/** {@code zenith storage ...}: where history is kept (a directory each). */
@Command(name = "storage", description = "Storages: directories that keep pgs' history.",
        footerHeading = "%nExamples:%n", footer = {"  zenith storage attach fast --path /mnt/nvme/zenith",
        "  zenith storage gc local --pitr 1d"})
final class StorageCommands implements Runnable {
    private final Cli cli;

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    StorageCommands(Cli cli) {
        this.cli = cli;
    }

    @Override
    public void run() {
        throw Args.needsSubcommand(spec);
    }

    static String name(String positional, String option, String example) {
        return Args.name("storage", positional, option, example);
    }

    private static String path(String name) {
        return "/storages/" + URLEncoder.encode(name, StandardCharsets.UTF_8);
    }

    @Command(name = "attach", description = "Attach a directory (or an S3 bucket prefix) as a storage (new, or one another daemon used).",
            footerHeading = "%nExamples:%n", footer = {"  zenith storage attach fast --path /mnt/nvme/zenith --pitr 7d",
            "  zenith storage attach cloud --type s3 --path s3://bucket/zenith --endpoint http://127.0.0.1:9000 --cache-size 2GiB"})
    int attach(@Parameters(arity = "0..1", paramLabel = "NAME") String name,
               @Option(names = {"-n", "--name"}, paramLabel = "NAME") String nameOpt,
               @Option(names = {"-p", "--path"}, paramLabel = "DIR|URL", description = "its directory, or s3://bucket/prefix") String dir,
               @Option(names = {"-t", "--type"}, paramLabel = "TYPE", description = "native (default) or s3") String type,
               @Option(names = "--endpoint", paramLabel = "URL", description = "s3: an S3-compatible server (MinIO, R2...)") String endpoint,
               @Option(names = "--region", paramLabel = "REGION", description = "s3: the bucket's region") String region,
               @Option(names = "--cache-size", paramLabel = "SIZE",
                       description = "s3: bound of the local cache, like 512MiB or 2GiB; 0: none (default: offload.cache_bytes)") String cacheSize,
               @Option(names = "--pitr", paramLabel = "DURATION", description = "how far back points stay (default 7d)") String pitr) {
        String n = name(name, nameOpt, "zenith storage attach fast --path DIR");
        boolean s3 = "s3".equals(type);
        if (dir == null || dir.isBlank()) {
            throw new CliException(s3 ? "missing --path s3://bucket/prefix: where storage " + n + " keeps its history"
                    : "missing --path DIR: the directory storage " + n + " keeps its history in", 2);
        }
        ObjectNode body = DaemonClient.JSON.createObjectNode().put("name", n).put("type", type == null ? "native" : type)
                .put("path", s3 ? dir : cli.absolute(dir));
        if (pitr != null) {
            body.put("pitr", pitr);
        }
        if (endpoint != null) {
            body.put("endpoint", endpoint);
        }
        if (region != null) {
            body.put("region", region);
        }
        if (cacheSize != null) {
            body.put("cache_size", cacheSize);
        }
        JsonNode s = cli.client().put("/storages", body);
        cli.emit(s, () -> cli.out.println("storage " + s.path("name").asText() + " attached at "
                + (s.has("remote") ? s.path("remote").path("url").asText() + " (local cache " + s.path("path").asText() + ")"
                : s.path("path").asText())));
        return 0;
    }

    @Command(name = "detach", description = "Detach a storage (its directory stays; attach it again later).",
            footerHeading = "%nExample:%n", footer = "  zenith storage detach fast --yes")
    int detach(@Parameters(arity = "0..1", paramLabel = "NAME") String name,
               @Option(names = {"-n", "--name"}, paramLabel = "NAME") String nameOpt,
               @Option(names = {"-y", "--yes", "--force"}, description = "do not ask") boolean yes) {
        String n = name(name, nameOpt, "zenith storage detach fast");
        cli.yes |= yes;
        cli.confirm("detaching storage " + n + " takes its pgs and snapshots out of this daemon");
        JsonNode s = cli.client().delete(path(n));
        cli.emit(s, () -> cli.out.println("storage " + n + " detached (its directory " + s.path("path").asText() + " stays)"));
        return 0;
    }

    @Command(name = "gc", description = "Free history outside the PITR window, snapshots and branches.",
            footerHeading = "%nExample:%n", footer = "  zenith storage gc local --pitr 1d")
    int gc(@Parameters(arity = "0..1", paramLabel = "NAME") String name,
           @Option(names = {"-n", "--name"}, paramLabel = "NAME") String nameOpt,
           @Option(names = "--pitr", paramLabel = "DURATION", description = "this window instead of the storage's") String pitr) {
        String n = name(name, nameOpt, "zenith storage gc local");
        ObjectNode body = DaemonClient.JSON.createObjectNode();
        if (pitr != null) {
            body.put("pitr", pitr);
        }
        JsonNode g = cli.client().sendWithProgress("POST", path(n) + "/gc", body.isEmpty() ? null : body,
                new JobProgress(cli, "gc " + n));
        cli.emit(g, () -> cli.out.println("storage " + n + ": freed " + Human.bytes(g.path("wal_bytes_freed").asLong())
                + " of WAL, " + Human.bytes(g.path("page_bytes_freed").asLong()) + " of pages ("
                + g.path("page_versions_freed").asLong() + " page versions), " + g.path("images_freed").asLong()
                + " images; kept the last " + Human.duration(g.path("pitr_seconds").asLong())));
        return 0;
    }

    @Command(name = "list", aliases = "ls", description = "Every storage.", footerHeading = "%nExample:%n", footer = "  zenith storage list")
    int list() {
        JsonNode list = cli.client().get("/storages");
        cli.emit(list, () -> Table.print(cli, list, "name", Table.Column.text("NAME", "name"),
                Table.Column.text("TYPE", "type"), Table.Column.status("STATUS", "status"),
                Table.Column.text("PITR", "pitr"), Table.Column.text("PATH", "path")));
        return 0;
    }

    @Command(name = "show", description = "One storage.", footerHeading = "%nExample:%n", footer = "  zenith storage show local")
    int show(@Parameters(arity = "0..1", paramLabel = "NAME") String name,
             @Option(names = {"-n", "--name"}, paramLabel = "NAME") String nameOpt) {
        JsonNode s = cli.client().get(path(name(name, nameOpt, "zenith storage show local")));
        cli.emit(s, () -> Table.object(cli, "storage " + s.path("name").asText(), s));
        return 0;
    }

    /** A path relative to this process's working directory made absolute (the program's own settings). */
    static String absolute(String path) {
        return Cli.absolute(Path.of(""), path);
    }
}
