package dev.zenith.cli;

import com.fasterxml.jackson.databind.JsonNode;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

import java.io.PrintStream;

/**
 * Follows a daemon job (GET /jobs/ID) until it ends and shows its progress on stderr (stdout stays the
 * answer): one line per phase, and on a terminal a bar (me.tongfei progressbar: bytes, rate, ETA) for a
 * phase that counts bytes.
 */
final class JobProgress {
    private static final long POLL_MS = 200;

    private final Cli cli;
    private final String task;

    /** {@code task}: what the bar is labelled with, e.g. "checkout main". */
    JobProgress(Cli cli, String task) {
        this.cli = cli;
        this.task = task;
    }

    JsonNode follow(DaemonClient client, String location) {
        int seen = 0; // phases shown so far
        ProgressBar bar = null;
        try {
            long pause = 50; // most jobs end quickly: look soon, then every POLL_MS
            while (true) {
                JsonNode job = client.get(location);
                JsonNode phases = job.path("phases");
                long total = job.path("total_bytes").asLong();
                if (phases.size() > seen) {
                    if (bar != null) {
                        bar.close();
                        bar = null;
                    }
                    for (; seen < phases.size(); seen++) {
                        boolean current = seen == phases.size() - 1;
                        if (cli.terminal && current && total > 0) {
                            bar = bar(phases.get(seen).asText(), total); // bytes to count: a bar
                        } else {
                            line(cli.err, phases.get(seen).asText(), current ? total : 0);
                        }
                    }
                }
                if (bar != null && total > 0) {
                    bar.maxHint(total);
                    bar.stepTo(Math.min(total, job.path("done_bytes").asLong()));
                }
                String state = job.path("state").asText();
                if (state.equals("succeeded")) {
                    return job.path("result");
                }
                if (state.equals("failed")) {
                    throw new CliException(ErrorTexts.forPeople(job.path("error").asText("the job failed"), client));
                }
                Thread.sleep(pause);
                pause = POLL_MS;
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CliException("interrupted; the daemon goes on with it (see: zenith status)");
        } finally {
            if (bar != null) {
                bar.close();
            }
        }
    }

    private ProgressBar bar(String phase, long total) {
        return new ProgressBarBuilder().setTaskName(task + ": " + phase).setInitialMax(total)
                .setStyle(ProgressBarStyle.ASCII).setUnit(" MiB", 1 << 20).showSpeed()
                .setUpdateIntervalMillis(200).setMaxRenderedLength(Table.width()).continuousUpdate()
                .setConsumer(new me.tongfei.progressbar.ConsoleProgressBarConsumer(cli.err))
                .setSpeedUnit(java.time.temporal.ChronoUnit.SECONDS).build();
    }

    private void line(PrintStream err, String phase, long total) {
        err.println("zenith: " + task + ": " + phase + (total > 0 ? " (" + Human.bytes(total) + ")" : "") + "...");
    }
}
