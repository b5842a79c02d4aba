package dev.zenith.cli;

import com.fasterxml.jackson.databind.JsonNode;

import java.io.PrintStream;

/**
 * Follows a daemon job (GET /jobs/ID) until it ends and shows its progress on stderr (stdout stays the
 * answer): one line per phase, and on a terminal of the zenith program a bar ({@link ProgressBars}: bytes,
 * rate, ETA) for a phase that counts bytes.
 */
final class JobProgress {
    /** How often a bar is redrawn (the daemon answers sooner when the job changes). */
    private static final long POLL_MS = 200;
    /** Without a bar: the longest one look waits for the job to change (the daemon's limit is 60 s). */
    private static final long CHANGE_WAIT_MS = 30_000;

    private final Cli cli;
    private final String task;

    /** {@code task}: what the bar is labelled with, e.g. "checkout main". */
    JobProgress(Cli cli, String task) {
        this.cli = cli;
        this.task = task;
    }

    JsonNode follow(DaemonClient client, String location) {
        int shown = 0; // phases shown so far, as a line or a bar
        int waited = -1; // the phase whose size was waited for, one poll
        ProgressBars bars = cli.terminal ? cli.invocation.bars() : null;
        ProgressBars.Bar bar = null;
        try {
            int seenPhases = 0;
            while (true) {
                // Answered when the job ends or enters a new phase (or the wait is up): no polling interval to sit out.
                long wait = bar != null || waited >= 0 && waited == shown ? POLL_MS : CHANGE_WAIT_MS;
                long asked = System.nanoTime();
                JsonNode job = client.get(location + "?wait_ms=" + wait + "&seen_phases=" + seenPhases);
                JsonNode phases = job.path("phases");
                long total = job.path("total_bytes").asLong();
                String state = job.path("state").asText();
                boolean ended = !state.equals("running");
                int current = phases.size() - 1;
                if (bar != null && (shown - 1 < current || state.equals("succeeded"))) { // the bar's phase is over
                    bar.finish();
                    bar = null;
                }
                for (; shown < current; shown++) {
                    line(cli.err, phases.get(shown).asText(), 0); // passed between two looks
                }
                if (shown == current) {
                    String phase = phases.get(current).asText();
                    if (total > 0 && bars != null && !ended) { // bytes to count: a bar
                        // the phase's name on its own line: as the bar's label it left no room for the rate and ETA
                        line(cli.err, phase, total);
                        bar = bars.open("", total, cli.err, cli.width());
                        shown++;
                    } else if (total > 0 || ended || waited == current) {
                        line(cli.err, phase, total);
                        shown++;
                    } else {
                        waited = current; // a phase may learn its size just after it begins
                    }
                }
                if (bar != null) {
                    bar.update(job.path("done_bytes").asLong(), total);
                }
                if (state.equals("succeeded")) {
                    return job.path("result");
                }
                if (state.equals("cancelled")) {
                    throw new CliException("cancelled (zenith job cancel " + job.path("id").asText() + "); nothing of it was kept");
                }
                if (state.equals("failed")) {
                    throw new CliException(ErrorTexts.forPeople(job.path("error").asText("the job failed"), client));
                }
                if (phases.size() == seenPhases && (System.nanoTime() - asked) / 1_000_000 < wait / 2) {
                    Thread.sleep(POLL_MS); // a daemon from before wait_ms answers at once
                }
                seenPhases = phases.size();
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

    private void line(PrintStream err, String phase, long total) {
        err.println("zenith: " + task + ": " + phase + (total > 0 ? " (" + Human.bytes(total) + ")" : "") + "...");
    }
}
