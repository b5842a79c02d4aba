package dev.zenith.cli;

import com.fasterxml.jackson.databind.JsonNode;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;

/** {@code zenith job ...}: the daemon's long actions (GET /jobs), and cancelling an export, import, push or pull. */
@Command(name = "job", description = "The daemon's long actions: list them, cancel an export, import, push or pull.",
        footerHeading = "%nExamples:%n", footer = {"  zenith job list", "  zenith job cancel 12"})
final class JobCommands implements Runnable {
    private static final long POLL_MS = 100;
    /** How long {@code job cancel} waits by default for the job to reach its next safe point and end. */
    static final int DEFAULT_WAIT_SECONDS = 60;
    private final Cli cli;

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    JobCommands(Cli cli) {
        this.cli = cli;
    }

    @Override
    public void run() {
        throw Args.needsSubcommand(spec);
    }

    private static String path(String id) {
        return "/jobs/" + URLEncoder.encode(id, StandardCharsets.UTF_8);
    }

    @Command(name = "list", aliases = "ls", description = "Running and recently finished jobs.", footerHeading = "%nExample:%n",
            footer = "  zenith job list")
    int list() {
        JsonNode list = cli.client().get("/jobs");
        cli.emit(list, () -> Table.print(cli, list, null, Table.Column.text("ID", "id"), Table.Column.status("STATE", "state"),
                Table.Column.text("ACTION", "action"), Table.Column.text("PHASE", "phase"),
                Table.Column.bytes("DONE", "done_bytes"), Table.Column.bytes("TOTAL", "total_bytes")));
        return 0;
    }

    @Command(name = "cancel", description = "Cancel a running export, import, push or pull: it ends 'cancelled' and leaves"
            + " nothing behind.", footerHeading = "%nExamples:%n", footer = {"  zenith job cancel 12",
            "  zenith job cancel 12 --wait 300"})
    int cancel(@Parameters(paramLabel = "ID") String id,
               @Option(names = "--wait", paramLabel = "SECONDS", description = "how long to wait for the job to end (default "
                       + DEFAULT_WAIT_SECONDS + "); past it the cancel stays requested and this command fails")
               Integer waitSeconds) {
        int wait = waitSeconds == null ? DEFAULT_WAIT_SECONDS : waitSeconds;
        if (wait < 0) {
            throw new CliException("--wait is a number of seconds, 0 or more; got " + wait, 2);
        }
        cli.client().post(path(id) + "/actions", DaemonClient.JSON.createObjectNode().put("action", "cancel"));
        JsonNode job = cli.client().get(path(id));
        // a job stops at its next safe point; one that never reaches it (a stuck server call) must not hold the CLI for good
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(wait);
        try {
            while ("running".equals(job.path("state").asText())) {
                if (System.nanoTime() - deadline >= 0) {
                    throw new CliException("job " + id + " (" + job.path("action").asText() + ") is still running " + wait
                            + " s after its cancel was asked (phase: " + job.path("phase").asText() + "); it stays requested: the job"
                            + " ends cancelled at its next safe point (see: zenith job list)");
                }
                Thread.sleep(POLL_MS);
                job = cli.client().get(path(id));
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CliException("interrupted; job " + id + " is being cancelled (see: zenith job list)");
        }
        JsonNode ended = job;
        String state = ended.path("state").asText();
        if (!state.equals("cancelled")) {
            throw new CliException("job " + id + " (" + ended.path("action").asText() + ") ended " + state
                    + " before it could be cancelled");
        }
        cli.emit(ended, () -> cli.out.println("job " + id + " (" + ended.path("action").asText() + ") cancelled"));
        return 0;
    }
}
