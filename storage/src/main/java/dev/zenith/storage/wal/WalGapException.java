package dev.zenith.storage.wal;

import dev.zenith.storage.failure.StoreException;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.wal.Lsn;

/** An append did not start where the timeline's stored WAL ends; nothing of the batch was written. */
public class WalGapException extends StoreException {
    private final TimelineId timeline;
    private final Lsn expected;
    private final Lsn actual;

    public WalGapException(TimelineId timeline, Lsn expected, Lsn actual) {
        super("WAL for timeline " + timeline + " must continue at " + expected + ", got " + actual);
        this.timeline = timeline;
        this.expected = expected;
        this.actual = actual;
    }

    public TimelineId timeline() {
        return timeline;
    }

    public Lsn expected() {
        return expected;
    }

    public Lsn actual() {
        return actual;
    }
}
