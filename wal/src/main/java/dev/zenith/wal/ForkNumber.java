package dev.zenith.wal;

/** PostgreSQL's relation forks, with the file suffixes and names pg_waldump prints. */
public enum ForkNumber {
    MAIN(0, "", "main"),
    FSM(1, "_fsm", "fsm"),
    VISIBILITY_MAP(2, "_vm", "vm"),
    INIT(3, "_init", "init");

    private final int id;
    private final String fileSuffix;
    private final String displayName;

    ForkNumber(int id, String fileSuffix, String displayName) {
        this.id = id;
        this.fileSuffix = fileSuffix;
        this.displayName = displayName;
    }

    public int id() {
        return id;
    }

    public String fileSuffix() {
        return fileSuffix;
    }

    public String displayName() {
        return displayName;
    }

    public static ForkNumber of(int id) {
        for (ForkNumber f : values()) {
            if (f.id == id) {
                return f;
            }
        }
        throw new IllegalArgumentException("invalid fork number " + id);
    }
}
