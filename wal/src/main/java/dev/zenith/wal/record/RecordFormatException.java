package dev.zenith.wal.record;

/** A record whose bytes passed the CRC but whose block-reference layout is invalid. */
public final class RecordFormatException extends Exception {
    private final boolean lengthMismatch;

    RecordFormatException(String message, boolean lengthMismatch) {
        super(message, null, false, false);
        this.lengthMismatch = lengthMismatch;
    }

    /** True when the declared lengths do not add up to xl_tot_len (vs. inconsistent flags). */
    public boolean isLengthMismatch() {
        return lengthMismatch;
    }
}
