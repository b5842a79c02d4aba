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

        @Override
        public void total(long total) {
        }
    };

    /** A new phase starts; {@code total} is its size in bytes, or 0 when unknown. */
    void phase(String name, long total);

    /** Units of the current phase done since the last call (thread-safe: parallel writers report). */
    void advance(long units);

    /** The current phase's size in bytes, once it is known (after the phase began). */
    void total(long total);

    /** Reports an import of a data directory (its bytes to read, then each batch) as the current phase's bytes. */
    default dev.zenith.storage.image.ImportProgress ofImport() {
        return new dev.zenith.storage.image.ImportProgress() {
            @Override
            public void toRead(long bytes) {
                total(bytes);
            }

            @Override
            public void read(long bytes) {
                advance(bytes);
            }
        };
    }

    /**
     * Said by work that stops cleanly at its {@link #checkCancelled()} points, leaving nothing half-done: its job can
     * be cancelled while it runs.
     */
    default void allowCancel() {
    }

    /** At a safe point: throws {@link JobCancelledException} when the job was asked to stop. */
    default void checkCancelled() {
    }

    default void phase(String name) {
        phase(name, 0);
    }

    /** The progress of the job this thread works for, or {@link #NONE}. */
    static Progress current() {
        Progress p = Job.CURRENT.get();
        return p == null ? NONE : p;
    }
}
