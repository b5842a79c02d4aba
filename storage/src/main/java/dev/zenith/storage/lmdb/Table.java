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
    /** What the store appends to each value: its checksum ({@link #seal}). */
    public static final int CHECKSUM_BYTES = 4;
    /** Mixed into the checksum of an eviction pointer ({@link ValuePointer}) standing for the value. */
    static final int POINTER_MARK = 0x5E61E7ED;

    private final String name;
    private final Dbi<byte[]> dbi;
    private final Path store;
    private final Function<byte[], String> keyText;
    /** Set for the tables whose values may be evicted: reads are stamped and pointers read back. */
    private final ColdValues cold;

    Table(String name, Dbi<byte[]> dbi, Path store, Function<byte[], String> keyText, ColdValues cold) {
        this.name = name;
        this.dbi = dbi;
        this.store = store;
        this.keyText = keyText;
        this.cold = cold;
    }

    /** The value stored at {@code key}, checked, or null. */
    public byte[] get(Txn<byte[]> txn, byte[] key) {
        byte[] stored = dbi.get(txn, key);
        return stored == null ? null : open(key, stored);
    }

    /** Whether a value (or an eviction pointer standing for one) is stored at {@code key}; nothing is read back. */
    public boolean contains(Txn<byte[]> txn, byte[] key) {
        return dbi.get(txn, key) != null;
    }

    public void put(Txn<byte[]> txn, byte[] key, byte[] value) {
        dbi.put(txn, key, seal(key, value));
    }

    /**
     * Stores {@code sealed}, the bytes {@link #sealInPlace} made of a value for {@code key} (where the CPU was free: an
     * import's encoder threads), as {@link #put} stores that value; not copied again here.
     */
    public void putSealed(Txn<byte[]> txn, byte[] key, byte[] sealed) {
        dbi.put(txn, key, sealed);
    }

    /**
     * Makes {@code buffer}, a value followed by {@link #CHECKSUM_BYTES} spare bytes, the bytes {@link #put} would store
     * for that value at {@code key} (its checksum written into the spare bytes); returns it, for {@link #putSealed}.
     */
    public static byte[] sealInPlace(byte[] key, byte[] buffer) {
        int length = buffer.length - CHECKSUM_BYTES;
        Keys.putInt(buffer, length, checksum(key, buffer, length));
        return buffer;
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

    /**
     * The value of stored bytes read at {@code key}, once its checksum says it is what was written; an
     * eviction pointer's value is read back through {@link ColdValues} and checked the same way.
     */
    byte[] open(byte[] key, byte[] stored) {
        int length = stored.length - CHECKSUM_BYTES;
        int sum = length < 0 ? 0 : checksum(key, stored, length);
        if (length >= 0 && Keys.getInt(stored, length) == sum) {
            if (cold != null) {
                cold.touched(key);
            }
            return Arrays.copyOf(stored, length);
        }
        if (cold != null && length == ValuePointer.BYTES && Keys.getInt(stored, length) == (sum ^ POINTER_MARK)) {
            cold.touched(key);
            String what = "the " + name + " entry of " + describe(key);
            ValuePointer pointer = ValuePointer.decode(Arrays.copyOf(stored, length), what);
            byte[] fetched = cold.fetch(pointer, what);
            if (fetched == null) {
                throw new EvictedValueException(what + " is evicted to segment " + pointer.segmentHex()
                        + ", not held here: reading it needs a download", this, key.clone(), stored);
            }
            int n = fetched.length - CHECKSUM_BYTES;
            if (Keys.getInt(fetched, n) != checksum(key, fetched, n)) {
                throw new StoreCorruptException("storage " + store + ": " + what + ", read back from segment "
                        + pointer.segmentHex()
                        + ", is damaged (its CRC-32C does not match); nothing of it is used");
            }
            cold.readBack(this, key, stored, fetched);
            return Arrays.copyOf(fetched, n);
        }
        throw new StoreCorruptException("storage " + store + ": the " + name + " entry of " + describe(key)
                + " is damaged (its CRC-32C does not match; " + stored.length + " bytes stored); nothing of it is used");
    }

    /** Whether the stored bytes at {@code key} are an eviction pointer (unchecked otherwise). */
    boolean isPointer(byte[] key, byte[] stored) {
        int length = stored.length - CHECKSUM_BYTES;
        return length == ValuePointer.BYTES && Keys.getInt(stored, length) == (checksum(key, stored, length) ^ POINTER_MARK);
    }

    /** Stores an eviction pointer in place of the value at {@code key}. */
    void putPointer(Txn<byte[]> txn, byte[] key, byte[] pointer) {
        byte[] out = Arrays.copyOf(pointer, pointer.length + CHECKSUM_BYTES);
        Keys.putInt(out, pointer.length, checksum(key, pointer, pointer.length) ^ POINTER_MARK);
        dbi.put(txn, key, out);
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
