package dev.zenith.storage.lmdb;

import dev.zenith.storage.failure.StoreCorruptException;

import java.nio.ByteBuffer;
import java.util.Arrays;

/**
 * What an evicted value is replaced by: the segment object holding it (its SHA-256 and length) and where
 * in it the value's stored bytes (value and CRC-32C, as {@link Table} sealed them) are. {@link Table} tells a
 * pointer from a value by its checksum, which is the entry's CRC-32C with {@link Table#POINTER_MARK} mixed in.
 */
record ValuePointer(byte[] segment, int segmentLength, int offset, int length) {
    private static final byte FORMAT = 1;
    static final int BYTES = 1 + 32 + 4 + 4 + 4;

    byte[] encode() {
        return ByteBuffer.allocate(BYTES).put(FORMAT).put(segment).putInt(segmentLength).putInt(offset).putInt(length)
                .array();
    }

    static ValuePointer decode(byte[] value, String what) {
        if (value.length != BYTES || value[0] != FORMAT) {
            throw new StoreCorruptException(what + " is an eviction pointer of an unknown format (" + value.length + " bytes)");
        }
        ByteBuffer b = ByteBuffer.wrap(value, 1, BYTES - 1);
        byte[] sha = new byte[32];
        b.get(sha);
        int segmentLength = b.getInt();
        int offset = b.getInt();
        int length = b.getInt();
        if (offset < 0 || length < Table.CHECKSUM_BYTES || (long) offset + length > segmentLength) {
            throw new StoreCorruptException(what + " points outside its segment (" + offset + "+" + length + " of "
                    + segmentLength + ")");
        }
        return new ValuePointer(sha, segmentLength, offset, length);
    }

    /** The sealed bytes this pointer names, cut from the whole segment. */
    byte[] cut(byte[] segmentBytes) {
        return Arrays.copyOfRange(segmentBytes, offset, offset + length);
    }

    String segmentHex() {
        return java.util.HexFormat.of().formatHex(segment);
    }
}
