package dev.zenith.storage.meta;

import dev.zenith.storage.lmdb.Keys;
import dev.zenith.storage.lmdb.Table;
import dev.zenith.storage.lmdb.TableCursor;
import dev.zenith.storage.lmdb.Tables;
import org.lmdbjava.GetOp;
import dev.zenith.storage.lmdb.ReadTxn;
import org.lmdbjava.Txn;

import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * The caller's documents, by key (the server's pgs, snapshots, settings; PostgreSQL's history files).
 * The bytes are the caller's: this store neither parses nor writes JSON. JSON documents are written in
 * snake_case, the one casing of stored documents (see {@link StoredJson}), as the
 * server writes its own. Blocking and thread-safe; each write is one durable LMDB transaction.
 */
public final class DocumentStore {
    /**
     * The id of the storage's main timeline, the one its cluster was created on (written last when
     * initdb's cluster becomes the storage's first image): the timeline a connection names by default.
     */
    public static final String MAIN_TIMELINE_KEY = "cluster/main_timeline";

    private final Tables tables;
    private final Table meta;

    public DocumentStore(Tables tables) {
        this.tables = tables;
        this.meta = tables.meta();
    }

    /**
     * Stores a document of the caller's. One keyed {@code KIND/TIMELINE-ID} (one slash) belongs to that
     * timeline: garbage collection deletes it with the timeline ({@link #deleteOf}).
     */
    public void put(String key, byte[] value) {
        try (Txn<byte[]> txn = tables.write()) {
            meta.put(txn, key(key), value);
            txn.commit();
        }
    }

    public Optional<byte[]> get(String key) {
        try (ReadTxn read = tables.read()) {
            Txn<byte[]> txn = read.txn();
            return Optional.ofNullable(meta.get(txn, key(key)));
        }
    }

    /** Returns whether the key existed. */
    public boolean delete(String key) {
        try (Txn<byte[]> txn = tables.write()) {
            boolean existed = meta.delete(txn, key(key));
            txn.commit();
            return existed;
        }
    }

    /** All documents whose key starts with {@code prefix}, in key order. */
    public Map<String, byte[]> list(String prefix) {
        Map<String, byte[]> out = new LinkedHashMap<>();
        byte[] p = prefix.getBytes(StandardCharsets.UTF_8);
        try (ReadTxn read = tables.read(); TableCursor c = meta.openCursor(read.txn())) {
            boolean ok = p.length == 0 ? c.first() : c.get(p, GetOp.MDB_SET_RANGE);
            for (; ok && Keys.hasPrefix(c.key(), p); ok = c.next()) {
                out.put(new String(c.key(), StandardCharsets.UTF_8), c.val());
            }
        }
        return out;
    }

    /**
     * In the caller's write transaction: the documents that belong to a timeline, keys {@code KIND/TIMELINE-ID}
     * ({@code timeline}: the id as text).
     */
    public void deleteOf(Txn<byte[]> txn, String timeline) {
        String suffix = "/" + timeline;
        try (TableCursor c = meta.openCursor(txn)) {
            for (boolean ok = c.first(); ok; ok = c.next()) {
                String k = new String(c.key(), StandardCharsets.UTF_8);
                if (k.endsWith(suffix) && k.indexOf('/') == k.length() - suffix.length()) {
                    c.delete();
                }
            }
        }
    }

    private static byte[] key(String key) {
        if (key.isEmpty() || key.length() > 400) {
            throw new IllegalArgumentException("metadata keys are 1..400 characters");
        }
        return key.getBytes(StandardCharsets.UTF_8);
    }
}
