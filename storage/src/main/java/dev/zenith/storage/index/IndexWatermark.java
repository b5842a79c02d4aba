package dev.zenith.storage.index;

import dev.zenith.wal.Lsn;

import java.nio.ByteBuffer;

/**
 * How far one timeline's page index is written ({@code index_state}): it describes the timeline's own
 * history from {@code base} (its first image, or its branch point, where it takes over its parent's
 * state) up to {@code upTo}, the end of the last WAL record indexed; the next record starts at
 * {@code next} (MAXALIGN(upTo), or the next segment after a WAL switch). Committed in the same transaction
 * as the entries it covers, so after a crash the index resumes from it.
 */
record IndexWatermark(Lsn base, Lsn upTo, Lsn next) {
    byte[] encode() {
        return ByteBuffer.allocate(24).putLong(base.value()).putLong(upTo.value()).putLong(next.value()).array();
    }

    static IndexWatermark decode(byte[] v) {
        if (v.length != 24) {
            throw new IllegalArgumentException("an index watermark of " + v.length + " bytes");
        }
        ByteBuffer b = ByteBuffer.wrap(v);
        return new IndexWatermark(Lsn.of(b.getLong()), Lsn.of(b.getLong()), Lsn.of(b.getLong()));
    }
}
