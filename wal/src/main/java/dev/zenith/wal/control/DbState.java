package dev.zenith.wal.control;

/** pg_control's DBState, with the words pg_controldata prints. */
public enum DbState {
    STARTUP("starting up"),
    SHUTDOWNED("shut down"),
    SHUTDOWNED_IN_RECOVERY("shut down in recovery"),
    SHUTDOWNING("shutting down"),
    IN_CRASH_RECOVERY("in crash recovery"),
    IN_ARCHIVE_RECOVERY("in archive recovery"),
    IN_PRODUCTION("in production");

    private final String text;

    DbState(String text) {
        this.text = text;
    }

    /** pg_controldata's wording. */
    public String text() {
        return text;
    }

    public static DbState of(int code) {
        if (code < 0 || code >= values().length) {
            throw new IllegalArgumentException("unrecognized DBState " + code);
        }
        return values()[code];
    }
}
