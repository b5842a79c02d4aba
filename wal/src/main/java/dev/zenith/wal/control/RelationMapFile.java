package dev.zenith.wal.control;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Map;
import java.util.TreeMap;

/**
 * A pg_filenode.map (PostgreSQL 15 relmapper.c, RelMapFile): which relfilenode each mapped catalog
 * (pg_class, pg_database, their indexes...) has. Rewriting such a catalog (VACUUM FULL, REINDEX) writes
 * a new map; the file itself is not a relation page, so page versions do not carry it.
 */
public final class RelationMapFile {
    static final int MAGIC = 0x592717;
    static final int MAX_MAPPINGS = 64;
    /** magic, count, 64 (oid, filenode) pairs, CRC, padding: RELMAPPER_FILESIZE. */
    static final int SIZE = 512;

    private RelationMapFile() {
    }

    /**
     * The mappings, catalog OID -> relfilenode.
     *
     * @throws IllegalArgumentException if the bytes are not a relation map file
     */
    public static Map<Integer, Integer> mappings(byte[] file) {
        if (file.length != SIZE) {
            throw new IllegalArgumentException("a relation map file has " + SIZE + " bytes, not " + file.length);
        }
        ByteBuffer b = ByteBuffer.wrap(file).order(ByteOrder.LITTLE_ENDIAN);
        int magic = b.getInt();
        int count = b.getInt();
        if (magic != MAGIC || count < 0 || count > MAX_MAPPINGS) {
            throw new IllegalArgumentException("not a relation map file (magic " + Integer.toHexString(magic)
                    + ", " + count + " mappings)");
        }
        Map<Integer, Integer> out = new TreeMap<>();
        for (int i = 0; i < count; i++) {
            out.put(b.getInt(), b.getInt());
        }
        return out;
    }
}
