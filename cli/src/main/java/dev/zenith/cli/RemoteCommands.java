package dev.zenith.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;

/** {@code zenith remote ...}: shared places snapshots are pushed to and pulled from, as git has remotes. */
@Command(name = "remote", description = "Remotes: shared places (S3 or a directory) to push snapshots to and pull them from.",
        footerHeading = "%nExamples:%n", footer = {"  zenith remote add team s3://bucket/zenith --region eu-west-1",
        "  zenith remote add nas file:///mnt/nas/zenith", "  zenith remote list"})
final class RemoteCommands implements Runnable {
    private final Cli cli;

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    RemoteCommands(Cli cli) {
        this.cli = cli;
    }

    @Override
    public void run() {
        throw Args.needsSubcommand(spec);
    }

    static String path(String name) {
        return "/remotes/" + URLEncoder.encode(name, StandardCharsets.UTF_8);
    }

    @Command(name = "add", description = "Name a remote: s3://BUCKET/PREFIX or file:///DIR.",
            footerHeading = "%nExamples:%n", footer = {"  zenith remote add team s3://bucket/zenith",
            "  zenith remote add minio s3://bucket/zenith --endpoint http://127.0.0.1:9000 --region us-east-1"})
    int add(@Parameters(index = "0", paramLabel = "NAME") String name,
            @Parameters(index = "1", paramLabel = "URL") String url,
            @Option(names = "--endpoint", paramLabel = "URL", description = "an S3-compatible server (not AWS)") String endpoint,
            @Option(names = "--region", paramLabel = "REGION", description = "the bucket's region") String region) {
        ObjectNode body = DaemonClient.JSON.createObjectNode().put("name", name).put("url", url);
        if (endpoint != null) {
            body.put("endpoint", endpoint);
        }
        if (region != null) {
            body.put("region", region);
        }
        JsonNode r = cli.client().put("/remotes", body);
        cli.emit(r, () -> cli.out.println("remote " + r.path("name").asText() + " is " + r.path("url").asText()));
        return 0;
    }

    @Command(name = "list", aliases = "ls", description = "Every remote.", footerHeading = "%nExample:%n",
            footer = "  zenith remote list")
    int list() {
        JsonNode list = cli.client().get("/remotes");
        cli.emit(list, () -> Table.print(cli, list, "name", Table.Column.text("NAME", "name"), Table.Column.text("URL", "url"),
                Table.Column.text("ENDPOINT", "endpoint"), Table.Column.text("REGION", "region")));
        return 0;
    }

    @Command(name = "gc", description = "Delete what no snapshot on the remote lists and is older than the grace period"
            + " (left by interrupted or cancelled pushes). Deletes nothing while a push to it runs.",
            footerHeading = "%nExamples:%n", footer = {"  zenith remote gc team", "  zenith remote gc team --grace 1h"})
    int gc(@Parameters(paramLabel = "NAME") String name,
           @Option(names = "--grace", paramLabel = "DURATION", description = "keep what is younger (default 1d): 30m, 12h, 7d")
           String grace) {
        ObjectNode body = DaemonClient.JSON.createObjectNode().put("action", "gc");
        if (grace != null) {
            body.put("grace", grace);
        }
        JsonNode r = cli.client().post(path(name) + "/actions", body);
        cli.emit(r, () -> cli.out.println(r.path("pushes_under_way").asInt() > 0
                ? "remote " + name + ": nothing deleted, " + r.path("pushes_under_way").asInt() + " push(es) under way; run it again later"
                : "remote " + name + ": " + r.path("blobs_deleted").asInt() + " objects deleted (" + r.path("bytes_freed").asLong()
                + " bytes), " + r.path("blobs_kept_young").asInt() + " unlisted ones kept as younger than the grace period"));
        return 0;
    }

    @Command(name = "remove", aliases = "rm", description = "Forget a remote (what it holds stays there).",
            footerHeading = "%nExample:%n", footer = "  zenith remote remove team")
    int remove(@Parameters(paramLabel = "NAME") String name) {
        JsonNode r = cli.client().delete(path(name));
        cli.emit(r, () -> cli.out.println("remote " + name + " removed (what it holds stays at " + r.path("url").asText() + ")"));
        return 0;
    }
}
