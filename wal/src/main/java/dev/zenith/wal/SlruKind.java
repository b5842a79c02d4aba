package dev.zenith.wal;

/**
 * The SLRUs a page server hands out whole segments of, numbered as Neon's {@code SlruKind}
 * (pageserver_api reltag.rs), with PostgreSQL 15's directories and segment file names.
 */
public enum SlruKind {
    CLOG(0, "pg_xact"),
    MULTIXACT_MEMBERS(1, "pg_multixact/members"),
    MULTIXACT_OFFSETS(2, "pg_multixact/offsets");

    private final int id;
    private final String directory;

    SlruKind(int id, String directory) {
        this.id = id;
        this.directory = directory;
    }

    public int id() {
        return id;
    }

    public String directory() {
        return directory;
    }

    /** The segment's file relative to the data directory: PostgreSQL 15 names segments with four hex digits. */
    public String segmentPath(int segment) {
        return directory + "/" + String.format("%04X", segment);
    }

    public static SlruKind of(int id) {
        for (SlruKind k : values()) {
            if (k.id == id) {
                return k;
            }
        }
        throw new IllegalArgumentException("invalid SLRU kind " + id + " (0 pg_xact, 1 pg_multixact/members, "
                + "2 pg_multixact/offsets)");
    }
}
