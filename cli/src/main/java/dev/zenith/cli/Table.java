package dev.zenith.cli;

import com.fasterxml.jackson.databind.JsonNode;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.function.Function;

/**
 * A list of JSON objects as an aligned table for people: sorted, human sizes and times, the columns that
 * matter by default (all with {@code -o wide}), and no wider than the terminal (100 columns when unknown):
 * the widest text columns are cut with an ellipsis.
 */
final class Table {
    /** A column: its header, how a row shows in it, and whether only {@code -o wide} shows it. */
    record Column(String header, Function<JsonNode, String> cell, boolean wideOnly, boolean status) {
        static Column text(String header, String field) {
            return new Column(header, row -> Table.text(row.get(field)), false, false);
        }

        static Column bytes(String header, String field) {
            return new Column(header, row -> row.hasNonNull(field) ? Human.bytes(row.get(field).asLong()) : "-", false, false);
        }

        static Column ago(String header, String field) {
            return new Column(header, row -> row.hasNonNull(field) ? Human.ago(row.get(field).asText()) : "-", false, false);
        }

        static Column time(String header, String field) {
            return new Column(header, row -> row.hasNonNull(field) ? Human.time(row.get(field).asText()) : "-", false, false);
        }

        static Column status(String header, String field) {
            return new Column(header, row -> Table.text(row.get(field)), false, true);
        }

        Column wide() {
            return new Column(header, cell, true, status);
        }
    }

    private Table() {
    }

    static String text(JsonNode v) {
        return v == null || v.isNull() ? "-" : v.isValueNode() ? v.asText() : v.toString();
    }

    /** Prints {@code rows} sorted by {@code sortField} (text order). */
    static void print(Cli cli, JsonNode rows, String sortField, Column... columns) {
        List<JsonNode> sorted = new ArrayList<>();
        rows.forEach(sorted::add);
        if (sortField != null) {
            sorted.sort(Comparator.comparing(r -> r.path(sortField).asText()));
        }
        List<Column> shown = new ArrayList<>();
        for (Column c : columns) {
            if (!c.wideOnly() || cli.wide()) {
                shown.add(c);
            }
        }
        List<String[]> cells = new ArrayList<>();
        for (JsonNode row : sorted) {
            String[] r = new String[shown.size()];
            for (int i = 0; i < r.length; i++) {
                r[i] = shown.get(i).cell().apply(row);
            }
            cells.add(r);
        }
        int[] width = new int[shown.size()];
        for (int i = 0; i < width.length; i++) {
            width[i] = shown.get(i).header().length();
            for (String[] r : cells) {
                width[i] = Math.max(width[i], r[i].length());
            }
        }
        if (!cli.wide()) {
            fit(width, cli.width());
        }
        String[] header = shown.stream().map(Column::header).toArray(String[]::new);
        cli.out.println(line(cli, header, width, shown, true));
        for (String[] r : cells) {
            cli.out.println(line(cli, r, width, shown, false));
        }
    }

    /** Cuts the widest columns until the line fits (two spaces between columns), none below 8. */
    private static void fit(int[] width, int max) {
        while (total(width) > max) {
            int widest = 0;
            for (int i = 1; i < width.length; i++) {
                widest = width[i] >= width[widest] ? i : widest;
            }
            if (width[widest] <= 8) {
                return;
            }
            width[widest] = Math.max(8, width[widest] - (total(width) - max));
        }
    }

    private static int total(int[] width) {
        int t = 2 * (width.length - 1);
        for (int w : width) {
            t += w;
        }
        return t;
    }

    private static String line(Cli cli, String[] r, int[] width, List<Column> columns, boolean header) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < r.length; i++) {
            String v = r[i].length() > width[i] ? cut(cli, r[i], width[i]) : r[i];
            String padded = i < r.length - 1 ? v + " ".repeat(width[i] - v.length() + 2) : v;
            if (header) {
                sb.append(cli.styled("bold", padded));
            } else if (columns.get(i).status()) {
                sb.append(cli.status(v)).append(padded.substring(v.length()));
            } else {
                sb.append(padded);
            }
        }
        return sb.toString().stripTrailing();
    }

    /** Text cut to {@code width} characters, ending with an ellipsis ("..." when the locale is not UTF-8). */
    private static String cut(Cli cli, String text, int width) {
        return cli.unicode() ? text.substring(0, width - 1) + "…" : text.substring(0, width - 3) + "...";
    }

    /** Sections of "label: value" lines, for one object (pg show, storage show). */
    static void sections(Cli cli, List<Section> sections) {
        int w = 0;
        for (Section s : sections) {
            for (String[] kv : s.lines()) {
                w = Math.max(w, kv[0].length());
            }
        }
        boolean first = true;
        for (Section s : sections) {
            if (s.lines().isEmpty()) {
                continue;
            }
            if (!first) {
                cli.out.println();
            }
            first = false;
            cli.out.println(cli.styled("bold", s.title()));
            for (String[] kv : s.lines()) {
                cli.out.println("  " + kv[0] + ":" + " ".repeat(w - kv[0].length() + 1) + kv[1]);
            }
        }
    }

    /** A titled group of label/value lines; values that are null are left out. */
    record Section(String title, List<String[]> lines) {
        Section(String title) {
            this(title, new ArrayList<>());
        }

        Section add(String label, String value) {
            if (value != null && !value.equals("-")) {
                lines.add(new String[] {label, value});
            }
            return this;
        }
    }

    /** Every field of an object, as one section (for answers with no dedicated layout). */
    static void object(Cli cli, String title, JsonNode obj) {
        Section s = new Section(title);
        obj.fields().forEachRemaining(e -> s.add(e.getKey(), text(e.getValue())));
        sections(cli, List.of(s));
    }
}
