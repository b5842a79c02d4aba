package dev.zenith.storage.index;

import java.util.OptionalLong;

/**
 * The values of {@code rel_sizes} and {@code databases}: a state from that LSN on, or gone. A database entry may
 * carry the directory's pg_filenode.map as it is from that LSN on (written at the first image, each
 * XLOG_RELMAP_UPDATE and a CREATE DATABASE by FILE_COPY, which copies the template's).
 */
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

    /** A database directory that exists, its relation map {@code map} from that LSN on. */
    static byte[] databaseWithMap(byte[] map) {
        byte[] v = new byte[1 + map.length];
        v[0] = PRESENT;
        System.arraycopy(map, 0, v, 1, map.length);
        return v;
    }

    static boolean databaseOf(byte[] v) {
        if (v.length == 0 || (v[0] != GONE && v[0] != PRESENT) || (v[0] == GONE && v.length != 1)) {
            throw new IllegalArgumentException("a database entry of " + v.length + " bytes");
        }
        return v[0] == PRESENT;
    }

    /** The relation map an entry carries, or null (none: the directory has none yet, or the entry predates maps). */
    static byte[] relationMapOf(byte[] v) {
        return databaseOf(v) && v.length > 1 ? java.util.Arrays.copyOfRange(v, 1, v.length) : null;
    }
}
