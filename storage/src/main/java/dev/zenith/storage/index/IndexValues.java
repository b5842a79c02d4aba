package dev.zenith.storage.index;

import java.util.OptionalLong;

/** The values of {@code rel_sizes} and {@code databases}: a state from that LSN on, or gone. */
final class IndexValues {
    private static final byte GONE = 0;
    private static final byte PRESENT = 1;

    private IndexValues() {
    }

    /** A fork of {@code blocks} blocks, or (empty) dropped. */
    static byte[] forkSize(OptionalLong blocks) {
        if (blocks.isEmpty()) {
            return new byte[] {GONE};
        }
        long n = blocks.getAsLong();
        return new byte[] {PRESENT, (byte) (n >>> 24), (byte) (n >>> 16), (byte) (n >>> 8), (byte) n};
    }

    static OptionalLong forkSizeOf(byte[] v) {
        if (v.length == 1 && v[0] == GONE) {
            return OptionalLong.empty();
        }
        if (v.length != 5 || v[0] != PRESENT) {
            throw new IllegalArgumentException("a relation size entry of " + v.length + " bytes");
        }
        return OptionalLong.of(((v[1] & 0xFFL) << 24) | ((v[2] & 0xFFL) << 16) | ((v[3] & 0xFFL) << 8) | (v[4] & 0xFFL));
    }

    static byte[] database(boolean exists) {
        return new byte[] {exists ? PRESENT : GONE};
    }

    static boolean databaseOf(byte[] v) {
        if (v.length != 1 || (v[0] != GONE && v[0] != PRESENT)) {
            throw new IllegalArgumentException("a database entry of " + v.length + " bytes");
        }
        return v[0] == PRESENT;
    }
}
