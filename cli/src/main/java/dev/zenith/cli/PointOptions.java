package dev.zenith.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import picocli.CommandLine.Option;

/**
 * {@code --lsn}, {@code --time} and {@code --at}: a point of a pg's history. A time is read as people type
 * it ({@link When}) and sent as UTC; the answer says what it resolved to.
 */
final class PointOptions {
    @Option(names = "--lsn", paramLabel = "LSN", description = "an LSN, e.g. 0/16B3748")
    String lsn;

    @Option(names = "--time", paramLabel = "WHEN", description = "a time: " + When.FORMS)
    String time;

    @Option(names = "--at", paramLabel = "WHEN|LSN", description = "a time or an LSN, whichever it looks like")
    String at;

    private When when;

    boolean given() {
        return lsn != null || time != null || at != null;
    }

    /** Puts "lsn" or "time" into a request body; refuses two points. {@code clock}: now, in the user's zone. */
    void putInto(ObjectNode body, java.time.Clock clock) {
        int n = (lsn != null ? 1 : 0) + (time != null ? 1 : 0) + (at != null ? 1 : 0);
        if (n > 1) {
            throw new CliException("give one of --lsn, --time and --at, not several", 2);
        }
        String text = at != null ? at : time;
        if (lsn != null || (text != null && When.isLsn(text))) {
            body.put("lsn", lsn != null ? lsn : text.trim());
        } else if (text != null) {
            when = When.parse(text, clock);
            body.put("time", when.iso());
        }
    }

    /** Runs the request; an error it answers says how the time given was read. */
    JsonNode send(java.util.function.Supplier<JsonNode> request) {
        try {
            return request.get();
        } catch (CliException e) {
            if (when == null) {
                throw e;
            }
            throw new CliException(e.getMessage() + " (the time '" + (time != null ? time : at) + "' was read as "
                    + Human.time(when.instant()) + (when.assumption() == null ? "" : "; " + when.assumption()) + ")",
                    e.exitCode());
        }
    }

    /** Lines saying where the point resolved: its LSN and the UTC time of its last commit, and what was asked. */
    void describe(Cli cli, JsonNode point) {
        if (point == null || point.isMissingNode() || point.isNull()) {
            return;
        }
        String commit = point.hasNonNull("commit_time") ? ", last commit " + Human.time(point.path("commit_time").asText())
                : "";
        cli.out.println("  point:  LSN " + point.path("lsn").asText() + commit);
        if (when != null) {
            cli.out.println("  asked:  " + (time != null ? time : at) + " = " + Human.time(when.instant())
                    + (when.assumption() == null ? "" : "; " + when.assumption()));
        }
        if (point.hasNonNull("note")) {
            cli.out.println("  note:   " + point.path("note").asText());
        }
    }
}
