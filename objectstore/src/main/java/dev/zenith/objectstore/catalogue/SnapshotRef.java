package dev.zenith.objectstore.catalogue;

import java.util.regex.Pattern;

/** A pushed snapshot's name on a remote: {@code PG@SNAP}, with zenith's name rules for both halves. */
public record SnapshotRef(String pg, String snapshot) {
    private static final Pattern NAME = Pattern.compile("[a-z0-9][a-z0-9_-]{0,62}");

    public SnapshotRef {
        if (pg == null || !NAME.matcher(pg).matches() || snapshot == null || !NAME.matcher(snapshot).matches()) {
            throw new IllegalArgumentException("not a snapshot name: '" + pg + "@" + snapshot
                    + "' (PG@SNAP, each a lower-case letter or digit then up to 62 of a-z, 0-9, '_', '-')");
        }
    }

    public static SnapshotRef parse(String text) {
        int at = text == null ? -1 : text.indexOf('@');
        if (at < 0) {
            throw new IllegalArgumentException("not a snapshot name: '" + text + "' (expected PG@SNAP)");
        }
        return new SnapshotRef(text.substring(0, at), text.substring(at + 1));
    }

    @Override
    public String toString() {
        return pg + "@" + snapshot;
    }
}
