package dev.zenith.objectstore.lease;

/**
 * Who may take an unexpired lease at once instead of waiting for its expiry: its own holder restarted
 * after a crash (kill -9, power loss), which knows that the process named in the lease is gone. The
 * taker still writes and reads back its record as any taker does, so two racing takers stay excluded.
 */
public interface Takeover {
    /** Nobody: an unexpired lease is always waited for. */
    Takeover NONE = new Takeover() {
        @Override
        public String holder() {
            return "";
        }

        @Override
        public long pid() {
            return 0;
        }

        @Override
        public boolean leftByCrashedPredecessor(LeaseRecord held) {
            return false;
        }
    };

    /** The identity written into this taker's record, for a later restart of it to recognise. */
    String holder();

    /** This taker's process id, written into its record. */
    long pid();

    /** Whether {@code held} (unexpired, not ours) was left by a predecessor of this taker that is certainly dead. */
    boolean leftByCrashedPredecessor(LeaseRecord held);
}
