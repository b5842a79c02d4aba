package dev.zenith.cli;

import com.fasterxml.jackson.databind.JsonNode;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Names of points in a pg's history as people write them. {@code main@before-migration} is a snapshot;
 * {@code main@HEAD1} the state the first checkout left; git's {@code HEAD~1} and {@code HEAD@{1}} the
 * state the latest checkout left ({@code ~2}, {@code @{2}}: the one before); {@code main@CURRENT} (or
 * {@code main}) the pg's present.
 */
final class Points {
    private static final Pattern GIT_HEAD = Pattern.compile("HEAD(?:~(\\d+)|@\\{(\\d+)})", Pattern.CASE_INSENSITIVE);
    private static final Pattern HEAD_N = Pattern.compile("HEAD(\\d+)");

    /** A point: a snapshot by its full name, or a pg's present. */
    record Point(String snapshot, String presentOf) {
        boolean isPresent() {
            return presentOf != null;
        }
    }

    private Points() {
    }

    /**
     * @param pg the pg a bare snapshot name ({@code HEAD~1}, {@code before-migration}) belongs to, or null
     *           when the text must name its pg
     */
    static Point parse(String text, String pg, DaemonClient client) {
        String owner;
        String snap;
        int at = text.indexOf('@');
        if (at > 0 && !text.regionMatches(true, 0, "HEAD@{", 0, 6)) {
            owner = text.substring(0, at);
            snap = text.substring(at + 1);
        } else if (pg != null && !text.isEmpty()) {
            owner = pg;
            snap = text;
        } else {
            return new Point(null, text); // a pg's name alone: its present
        }
        if (snap.equalsIgnoreCase("CURRENT") || snap.isEmpty()) {
            return new Point(null, owner);
        }
        Matcher git = GIT_HEAD.matcher(snap);
        if (git.matches()) {
            int back = Integer.parseInt(git.group(1) != null ? git.group(1) : git.group(2));
            if (back == 0) {
                return new Point(null, owner);
            }
            return new Point(owner + "@HEAD" + headBack(owner, back, snap, client), null);
        }
        return new Point(owner + "@" + snap, null);
    }

    /** The HEADn that {@code back} checkouts ago left: the newest is 1 back. */
    private static int headBack(String pg, int back, String asWritten, DaemonClient client) {
        List<Integer> heads = new ArrayList<>();
        for (JsonNode s : client.get("/snapshots?pg=" + java.net.URLEncoder.encode(pg, java.nio.charset.StandardCharsets.UTF_8))) {
            Matcher m = HEAD_N.matcher(s.path("snapshot").asText());
            if (s.path("pg").asText().equals(pg) && m.matches()) {
                heads.add(Integer.parseInt(m.group(1)));
            }
        }
        heads.sort(null);
        if (heads.size() < back) {
            throw new CliException(pg + "@" + asWritten + ": pg " + pg + " has " + heads.size() + " earlier state"
                    + (heads.size() == 1 ? "" : "s") + " left by checkouts (see: zenith log " + pg + ")", 2);
        }
        return heads.get(heads.size() - back);
    }

    /** A snapshot's full name; a pg's present is refused with {@code why}. */
    static String snapshot(String text, String pg, DaemonClient client) {
        Point p = parse(text, pg, client);
        if (p.isPresent()) {
            throw new CliException("'" + text + "' is a pg's present, not a snapshot; name one as PG@SNAPSHOT", 2);
        }
        return p.snapshot();
    }
}
