package dev.zenith.cli;

import com.fasterxml.jackson.databind.JsonNode;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;

/** Prints JSON objects as an aligned text table, one row each, with the given columns. */
final class Table {
    private Table() {
    }

    static void print(PrintStream out, JsonNode rows, String... columns) {
        List<String[]> cells = new ArrayList<>();
        String[] header = new String[columns.length];
        for (int i = 0; i < columns.length; i++) {
            header[i] = columns[i].toUpperCase();
        }
        cells.add(header);
        for (JsonNode row : rows) {
            String[] r = new String[columns.length];
            for (int i = 0; i < columns.length; i++) {
                JsonNode v = row.get(columns[i]);
                r[i] = v == null || v.isNull() ? "-" : v.asText();
            }
            cells.add(r);
        }
        int[] width = new int[columns.length];
        for (String[] r : cells) {
            for (int i = 0; i < r.length; i++) {
                width[i] = Math.max(width[i], r[i].length());
            }
        }
        for (String[] r : cells) {
            StringBuilder sb = new StringBuilder();
            for (int i = 0; i < r.length; i++) {
                sb.append(r[i]);
                if (i < r.length - 1) {
                    sb.append(" ".repeat(width[i] - r[i].length() + 2));
                }
            }
            out.println(sb.toString().stripTrailing());
        }
    }

    /** One object as "key: value" lines. */
    static void printObject(PrintStream out, JsonNode obj) {
        int w = 0;
        for (var it = obj.fieldNames(); it.hasNext(); ) {
            w = Math.max(w, it.next().length());
        }
        for (var it = obj.fields(); it.hasNext(); ) {
            var e = it.next();
            String v = e.getValue().isValueNode() ? e.getValue().asText() : e.getValue().toString();
            out.println(e.getKey() + ":" + " ".repeat(w - e.getKey().length() + 1) + v);
        }
    }
}
