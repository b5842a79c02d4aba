package dev.zenith.cli;

import com.fasterxml.jackson.databind.JsonNode;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The daemon's error texts speak REST (field names, timeline ids); people typed CLI options and pg names.
 * This turns the one into the other and adds what to do next.
 */
final class ErrorTexts {
    private static final Map<String, String> FIELDS = Map.of(
            "name", "the NAME argument (or -n)", "path", "--path", "storage_name", "--storage (-s)",
            "snapshot", "a snapshot PG@SNAP", "from", "--from PG", "lsn", "--lsn", "time", "--time",
            "pitr", "--pitr", "read_only", "--read-only", "type", "--type");
    private static final Pattern FIELD = Pattern.compile("field '([a-z_]+)'");
    private static final Pattern TIMELINE = Pattern.compile("timeline ([0-9a-f]{16,})");
    private static final Pattern NOT_FOUND = Pattern.compile("^(pg|storage|snapshot) '([^']*)' not found$");

    private ErrorTexts() {
    }

    static String forPeople(String error, DaemonClient client) {
        String text = error;
        Matcher f = FIELD.matcher(text);
        StringBuilder sb = new StringBuilder();
        while (f.find()) {
            f.appendReplacement(sb, Matcher.quoteReplacement(FIELDS.getOrDefault(f.group(1), "'" + f.group(1) + "'")));
        }
        f.appendTail(sb);
        text = sb.toString().replace("give an LSN or a time, not both", "give --lsn or --time, not both");
        Matcher nf = NOT_FOUND.matcher(text);
        if (nf.matches()) {
            return text + " (see: zenith " + nf.group(1) + " list)";
        }
        if (text.contains("before the retention horizon")) {
            text += " (see what is kept: zenith log PG)";
        }
        return withPgNames(text, client);
    }

    /** "timeline 0a1b..." becomes "timeline 0a1b... (pg main)" when pgs run on it. */
    private static String withPgNames(String text, DaemonClient client) {
        Matcher t = TIMELINE.matcher(text);
        if (!t.find() || client == null) {
            return text;
        }
        JsonNode pgs;
        try {
            pgs = client.get("/pgs");
        } catch (CliException e) {
            return text;
        }
        StringBuilder sb = new StringBuilder();
        t.reset();
        while (t.find()) {
            List<String> names = new ArrayList<>();
            for (JsonNode pg : pgs) {
                if (t.group(1).equals(pg.path("timeline_id").asText())) {
                    names.add(pg.path("name").asText());
                }
            }
            String named = names.isEmpty() ? t.group() : t.group() + " (pg " + String.join(", ", names) + ")";
            t.appendReplacement(sb, Matcher.quoteReplacement(named));
        }
        t.appendTail(sb);
        return sb.toString();
    }
}
