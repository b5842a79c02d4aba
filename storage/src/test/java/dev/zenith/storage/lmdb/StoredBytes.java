package dev.zenith.storage.lmdb;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * Test tool: damages a store the way a disk does, by flipping one byte of a stored value inside LMDB's
 * data file (every copy of it, as LMDB may keep stale ones in pages it has not reused yet).
 */
public final class StoredBytes {
    private StoredBytes() {
    }

    /** The value at {@code key} of {@code table} ("pages", "wal_chunks"...), read from a closed store. */
    public static byte[] value(Path store, String table, byte[] key) throws IOException {
        try (Tables t = Tables.open(store); var read = t.read()) {
            byte[] v = table(t, table).get(read.txn(), key);
            if (v == null) {
                throw new IllegalArgumentException("no " + table + " entry at that key");
            }
            return v;
        }
    }

    /** Every key of {@code table} that starts with {@code prefix}, in order. */
    public static java.util.List<byte[]> keys(Path store, String table, byte[] prefix) throws IOException {
        java.util.List<byte[]> out = new java.util.ArrayList<>();
        try (Tables t = Tables.open(store); var read = t.read(); TableCursor c = table(t, table).openCursor(read.txn())) {
            for (boolean ok = c.get(prefix, org.lmdbjava.GetOp.MDB_SET_RANGE); ok && Keys.hasPrefix(c.key(), prefix); ok = c.next()) {
                out.add(c.key());
            }
        }
        return out;
    }

    /**
     * Rewrites the value at {@code key} through the store's own codec, so its checksum matches: what a store
     * holds when something was stored wrong in the first place.
     */
    public static void rewrite(Path store, String table, byte[] key, java.util.function.Consumer<byte[]> change)
            throws IOException {
        try (Tables t = Tables.open(store); var txn = t.write()) {
            byte[] v = table(t, table).get(txn, key);
            change.accept(v);
            table(t, table).put(txn, key, v);
            txn.commit();
        }
    }

    /** The first key of {@code table} that starts with {@code prefix} and whose value is at least {@code minBytes}. */
    public static byte[] firstKey(Path store, String table, byte[] prefix, int minBytes) throws IOException {
        try (Tables t = Tables.open(store); var read = t.read(); TableCursor c = table(t, table).openCursor(read.txn())) {
            for (boolean ok = c.get(prefix, org.lmdbjava.GetOp.MDB_SET_RANGE); ok && Keys.hasPrefix(c.key(), prefix); ok = c.next()) {
                if (c.val().length >= minBytes) {
                    return c.key();
                }
            }
        }
        throw new IllegalArgumentException("no " + table + " entry of at least " + minBytes + " bytes");
    }

    /**
     * Flips one bit in the middle of every copy of {@code value} in the store's data.mdb (its stored form
     * is the value and a checksum, contiguous). Returns how many copies were found (at least one).
     */
    public static int flipInValue(Path store, byte[] value) throws IOException {
        Path data = store.resolve("data.mdb");
        byte[] file = Files.readAllBytes(data);
        int from = Math.max(0, value.length / 2 - 32);
        byte[] fragment = Arrays.copyOfRange(value, from, Math.min(value.length, from + 64));
        int found = 0;
        for (int at = 0; at <= file.length - fragment.length; at++) {
            if (file[at] == fragment[0] && Arrays.equals(file, at, at + fragment.length, fragment, 0, fragment.length)) {
                file[at + fragment.length / 2] ^= 0x08;
                found++;
            }
        }
        if (found == 0) {
            throw new IllegalStateException("the value's bytes are not in " + data);
        }
        Files.write(data, file);
        return found;
    }

    private static Table table(Tables t, String name) {
        return switch (name) {
            case "pages" -> t.pages();
            case "wal_chunks" -> t.walChunks();
            case "blobs" -> t.blobs();
            case "images" -> t.images();
            case "timelines" -> t.timelines();
            case "meta" -> t.meta();
            default -> throw new IllegalArgumentException(name);
        };
    }
}
