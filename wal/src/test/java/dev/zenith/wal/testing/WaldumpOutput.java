package dev.zenith.wal.testing;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** pg_waldump -b output split into records: the record line and its block reference lines. */
public final class WaldumpOutput {
    private static final Pattern RECORD = Pattern.compile(
            "rmgr: (\\S+)\\s+len \\(rec/tot\\):\\s+(\\d+)/\\s*(\\d+), tx:\\s+(\\d+), lsn: (\\S+), prev (\\S+), desc: (.*)");

    public record Entry(String line, String rmgr, int recLen, int totLen, long xid, String lsn, String prev,
                        String desc, List<String> blockLines) {
    }

    private WaldumpOutput() {
    }

    public static List<Entry> parse(String text) {
        List<Entry> out = new ArrayList<>();
        String[] lines = text.split("\n");
        for (int i = 0; i < lines.length; i++) {
            String l = lines[i];
            if (l.isEmpty()) {
                continue;
            }
            Matcher m = RECORD.matcher(l);
            if (!m.matches()) {
                throw new IllegalArgumentException("unexpected pg_waldump line: " + l);
            }
            List<String> blocks = new ArrayList<>();
            while (i + 1 < lines.length && lines[i + 1].startsWith("\tblkref")) {
                blocks.add(lines[++i]);
            }
            out.add(new Entry(l, m.group(1), Integer.parseInt(m.group(2)), Integer.parseInt(m.group(3)),
                    Long.parseLong(m.group(4)), m.group(5), m.group(6), m.group(7), blocks));
        }
        return out;
    }
}
