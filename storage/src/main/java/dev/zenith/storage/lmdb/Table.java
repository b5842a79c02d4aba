package dev.zenith.storage.lmdb;

import dev.zenith.storage.failure.StoreCorruptException;
import org.lmdbjava.Dbi;
import org.lmdbjava.Stat;
import org.lmdbjava.Txn;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.function.Function;
import java.util.zip.CRC32C;

/**
 * One named LMDB database of a store. Every value is stored with a CRC-32C of its key and its bytes
 * appended (4 bytes, big-endian) and checked on every read: a byte damaged anywhere in an entry, key or
 * value (LMDB itself checks nothing), is a {@link StoreCorruptException} naming the store, the table
 * and what the key stands for, never data. Callers see values without the checksum.
 */
public final class Table {
    static final int CHECKSUM_BYTES = 4;

    private final String name;
    private final Dbi<byte[]> dbi;
    private final Path store;
    private final Function<byte[], String> keyText;

    Table(String name, Dbi<byte[]> dbi, Path store, Function<byte[], String> keyText) {
        this.name = name;
        this.dbi = dbi;
        this.store = store;
        this.keyText = keyText;
    }

    /** The value stored at {@code key}, checked, or null. */
    public byte[] get(Txn<byte[]> txn, byte[] key) {
        byte[] stored = dbi.get(txn, key);
        return stored == null ? null : open(key, stored);
    }

    public void put(Txn<byte[]> txn, byte[] key, byte[] value) {
        dbi.put(txn, key, seal(key, value));
    }

    /** Returns whether the key existed. */
    public boolean delete(Txn<byte[]> txn, byte[] key) {
        return dbi.delete(txn, key);
    }

    public TableCursor openCursor(Txn<byte[]> txn) {
        return new TableCursor(this, dbi.openCursor(txn));
    }

    public Stat stat(Txn<byte[]> txn) {
        return dbi.stat(txn);
    }

    /** The bytes stored for {@code value} at {@code key}: the value, then the CRC-32C of key and value. */
    static byte[] seal(byte[] key, byte[] value) {
        byte[] out = Arrays.copyOf(value, value.length + CHECKSUM_BYTES);
        Keys.putInt(out, value.length, checksum(key, value, value.length));
        return out;
    }

    /** The value of stored bytes read at {@code key}, once its checksum says it is what was written. */
    byte[] open(byte[] key, byte[] stored) {
        int length = stored.length - CHECKSUM_BYTES;
        if (length < 0 || Keys.getInt(stored, length) != checksum(key, stored, length)) {
            throw new StoreCorruptException("storage " + store + ": the " + name + " entry of " + describe(key)
                    + " is damaged (its CRC-32C does not match; " + stored.length + " bytes stored); nothing of it is used");
        }
        return Arrays.copyOf(stored, length);
    }

    private String describe(byte[] key) {
        try {
            return keyText.apply(key);
        } catch (RuntimeException e) { // a damaged key may not even parse
            return "key " + java.util.HexFormat.of().formatHex(key);
        }
    }

    private static int checksum(byte[] key, byte[] value, int length) {
        CRC32C crc = new CRC32C();
        crc.update(key);
        crc.update(value, 0, length);
        return (int) crc.getValue();
    }

    Dbi<byte[]> dbi() {
        return dbi;
    }

    String name() {
        return name;
    }
}
