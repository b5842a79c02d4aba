package dev.zenith.wal.decoder;

import dev.zenith.wal.Lsn;

/** A {@link WalStreamDecoder}'s options beyond the start position ({@link WalStreamDecoder#builder}). */
public final class WalDecoderBuilder {
    final long start;
    int timeline;
    long systemId;
    long prev = -1;
    boolean startIsRecord;

    WalDecoderBuilder(long start) {
        this.start = start;
    }

    /** Require every page to carry this timeline (default: any, but never going backwards). */
    public WalDecoderBuilder timeline(int timeline) {
        this.timeline = timeline;
        return this;
    }

    /** Require long page headers to carry this system identifier (default: learn from the first). */
    public WalDecoderBuilder systemId(long systemId) {
        this.systemId = systemId;
        return this;
    }

    /** The start of the record before the first one, to check its xl_prev exactly. */
    public WalDecoderBuilder previousRecord(Lsn prev) {
        this.prev = prev.value();
        return this;
    }

    /**
     * The start is known to be the beginning of a record even though it is a page boundary
     * (only possible right after XLOG_SWITCH or at the very start of WAL), so a continuation
     * flag there is an error rather than something to skip.
     */
    public WalDecoderBuilder startIsRecord() {
        this.startIsRecord = true;
        return this;
    }

    public WalStreamDecoder build() {
        return new WalStreamDecoder(this);
    }
}
