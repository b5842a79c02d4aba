package dev.zenith.protocol.pagestream;

import java.util.Locale;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * The simple query that opens a page stream: {@code pagestream_v3 <tenant id> <timeline id>} (or
 * {@code pagestream_v2}), each id 32 hex digits, as Neon's {@code PageStreamCmd::parse} reads it.
 * Ids are kept in lower case.
 */
public record PagestreamCommand(PagestreamVersion version, String tenantId, String timelineId) {
    private static final Pattern ID = Pattern.compile("[0-9a-fA-F]{32}");

    /**
     * The command, or empty when the query is not a pagestream command at all. A query that starts
     * with a {@code pagestream} word but is not a valid command is an IllegalArgumentException
     * saying what is wrong.
     */
    public static Optional<PagestreamCommand> parse(String query) {
        String[] words = query.trim().split("\\s+");
        String first = words[0].toLowerCase(Locale.ROOT);
        if (!first.startsWith("pagestream")) {
            return Optional.empty();
        }
        PagestreamVersion version = null;
        for (PagestreamVersion v : PagestreamVersion.values()) {
            if (v.command().equals(first)) {
                version = v;
            }
        }
        if (version == null) {
            throw new IllegalArgumentException("unsupported page stream command \"" + words[0]
                    + "\": use pagestream_v3 or pagestream_v2");
        }
        if (words.length != 3) {
            throw new IllegalArgumentException(first + " takes two parameters, a tenant id and a timeline id: \""
                    + query.trim() + "\"");
        }
        return Optional.of(new PagestreamCommand(version, id("tenant", words[1]), id("timeline", words[2])));
    }

    private static String id(String what, String text) {
        if (!ID.matcher(text).matches()) {
            throw new IllegalArgumentException("invalid " + what + " id \"" + text + "\": 32 hex digits expected");
        }
        return text.toLowerCase(Locale.ROOT);
    }

    /** The query text that opens this stream. */
    public String toQuery() {
        return version.command() + " " + tenantId + " " + timelineId;
    }
}
