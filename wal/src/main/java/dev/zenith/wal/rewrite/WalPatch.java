package dev.zenith.wal.rewrite;

import dev.zenith.wal.Lsn;

/**
 * New values for WAL bytes as they lie in a segment or a replication stream: {@code bytes} go at
 * {@code at} and after it, within one page (a patch never covers a page header).
 */
public record WalPatch(Lsn at, byte[] bytes) {
    public Lsn end() {
        return at.plus(bytes.length);
    }

    /**
     * Writes the part of this patch that falls in {@code buffer}, whose first byte is WAL position
     * {@code bufferStart}; returns whether all of it did.
     */
    public boolean applyTo(byte[] buffer, int offset, int length, Lsn bufferStart) {
        long from = Math.max(at.value(), bufferStart.value());
        long to = Math.min(end().value(), bufferStart.value() + length);
        if (from < to) {
            System.arraycopy(bytes, (int) (from - at.value()), buffer, offset + (int) (from - bufferStart.value()),
                    (int) (to - from));
        }
        return from == at.value() && to == end().value();
    }
}
