package dev.zenith.server.jobs;

/**
 * What a long action tells about itself while it runs: its phase and, where it can count them, the
 * units (bytes) done of a total. Deep code reports through {@link #current()}, so no signature between
 * the REST layer and the store has to carry it.
 */
public interface Progress {
    Progress NONE = new Progress() {
        @Override
        public void phase(String name, long total) {
        }

        @Override
        public void advance(long units) {
        }
    };

    /** A new phase starts; {@code total} is its size in bytes, or 0 when unknown. */
    void phase(String name, long total);

    /** Units of the current phase done since the last call (thread-safe: parallel writers report). */
    void advance(long units);

    default void phase(String name) {
        phase(name, 0);
    }

    /** The progress of the job this thread works for, or {@link #NONE}. */
    static Progress current() {
        Progress p = Job.CURRENT.get();
        return p == null ? NONE : p;
    }
}
