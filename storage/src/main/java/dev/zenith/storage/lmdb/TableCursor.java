package dev.zenith.storage.lmdb;

import org.lmdbjava.Cursor;
import org.lmdbjava.GetOp;
import org.lmdbjava.Txn;

/**
 * An LMDB cursor over a {@link Table}: the value at each position is checked (once) when asked for,
 * and returned without its checksum; positioning and keys are LMDB's own.
 */
public final class TableCursor implements AutoCloseable {
    private final Table table;
    private final Cursor<byte[]> cursor;
    private byte[] value; // the checked value at the current position, once asked for

    TableCursor(Table table, Cursor<byte[]> cursor) {
        this.table = table;
        this.cursor = cursor;
    }

    public boolean get(byte[] key, GetOp op) {
        value = null;
        return cursor.get(key, op);
    }

    public boolean first() {
        value = null;
        return cursor.first();
    }

    public boolean last() {
        value = null;
        return cursor.last();
    }

    public boolean next() {
        value = null;
        return cursor.next();
    }

    public boolean prev() {
        value = null;
        return cursor.prev();
    }

    public byte[] key() {
        return cursor.key();
    }

    public byte[] val() {
        if (value == null) {
            value = table.open(cursor.key(), cursor.val());
        }
        return value;
    }

    /** The length of the value at the current position, unchecked (for counting what is freed, say). */
    public int valueLength() {
        return cursor.val().length - Table.CHECKSUM_BYTES;
    }

    /**
     * The entry with the greatest key at or below {@code key} that shares its first
     * {@code prefixLength} bytes ({key, checked value}), or null. This is how "newest version at or
     * below LSN" and "the WAL chunk containing LSN" are found.
     */
    public byte[][] floor(byte[] key, int prefixLength) {
        byte[] found = floorKey(key, prefixLength);
        return found == null ? null : new byte[][] {found, val()};
    }

    /**
     * As {@link #floor}, the key only: the value is not read (an evicted one is not fetched); the cursor stays on
     * the entry, so {@link #val()} reads it if wanted.
     */
    public byte[] floorKey(byte[] key, int prefixLength) {
        boolean positioned = get(key, GetOp.MDB_SET_RANGE);
        if (positioned && java.util.Arrays.equals(key(), key)) {
            return key();
        }
        boolean moved = positioned ? prev() : last();
        if (!moved || !Keys.hasPrefix(key(), key, prefixLength)) {
            return null;
        }
        return key();
    }

    /** Moves the cursor to {@code txn}, a renewed read-only transaction (a reset one's cursors must be, before use). */
    void renew(Txn<byte[]> txn) {
        value = null;
        cursor.renew(txn);
    }

    /** Deletes the entry at the current position. */
    public void delete() {
        value = null;
        cursor.delete();
    }

    @Override
    public void close() {
        cursor.close();
    }
}
