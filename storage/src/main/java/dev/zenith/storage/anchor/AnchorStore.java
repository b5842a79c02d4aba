package dev.zenith.storage.anchor;

import dev.zenith.storage.failure.StoreCorruptException;
import dev.zenith.storage.image.Blobs;
import dev.zenith.storage.lmdb.Keys;
import dev.zenith.storage.lmdb.TableCursor;
import dev.zenith.storage.lmdb.Tables;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.storage.timeline.TimelineStore;
import dev.zenith.wal.Lsn;
import org.lmdbjava.GetOp;
import dev.zenith.storage.lmdb.ReadTxn;
import org.lmdbjava.Txn;

import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Anchors by (timeline, checkpoint record LSN): pg_control, redo point, record end and PostgreSQL
 * timeline in the {@code anchors} table, the status files in {@code blobs} (SLRU segments mostly
 * repeat between anchors: each distinct content is stored once). Blocking and thread-safe; each
 * write is one durable LMDB transaction.
 */
public final class AnchorStore {
    private final Tables tables;
    private final TimelineStore timelines;

    public AnchorStore(Tables tables, TimelineStore timelines) {
        this.tables = tables;
        this.timelines = timelines;
    }

    /** Stores the anchor (replacing one at the same key). */
    public void put(StoredAnchor a) {
        try (Txn<byte[]> txn = tables.write()) {
            timelines.require(txn, a.timeline());
            Map<String, byte[]> hashes = new LinkedHashMap<>();
            a.files().forEach((path, content) -> {
                byte[] hash = Blobs.sha256(content);
                Blobs.put(tables.blobs(), txn, hash, content);
                hashes.put(path, hash);
            });
            tables.anchors().put(txn, Keys.timelineLsn(a.timeline(), a.checkpointLsn()), encode(a, hashes));
            txn.commit();
        }
    }

    /** The timeline's own anchors (not its ancestors'), oldest first. */
    public List<StoredAnchor> of(TimelineId id) {
        List<StoredAnchor> out = new ArrayList<>();
        try (ReadTxn read = tables.read(); TableCursor c = tables.anchors().openCursor(read.txn())) {
            Txn<byte[]> txn = read.txn();
            byte[] prefix = Keys.timeline(id);
            for (boolean ok = c.get(prefix, GetOp.MDB_SET_RANGE); ok && Keys.hasPrefix(c.key(), prefix); ok = c.next()) {
                out.add(decode(txn, id, Keys.lsnAt(c.key(), Keys.TL), c.val()));
            }
        }
        return out;
    }

    /**
     * Where an anchor stands, without its files: choosing among a timeline's anchors (a rebuild's start) reads
     * no status file, and only the chosen one is read whole ({@link #get}).
     */
    public record Point(TimelineId timeline, Lsn checkpointLsn, Lsn redoLsn, Lsn recordEnd) {
    }

    /** The points of the timeline's own anchors (not its ancestors'), oldest first; their files are not read. */
    public List<Point> pointsOf(TimelineId id) {
        List<Point> out = new ArrayList<>();
        try (ReadTxn read = tables.read(); TableCursor c = tables.anchors().openCursor(read.txn())) {
            byte[] prefix = Keys.timeline(id);
            for (boolean ok = c.get(prefix, GetOp.MDB_SET_RANGE); ok && Keys.hasPrefix(c.key(), prefix); ok = c.next()) {
                Lsn checkpoint = Keys.lsnAt(c.key(), Keys.TL);
                byte[] v = c.val();
                if (v.length < 16) {
                    throw new StoreCorruptException("the anchor at " + checkpoint + " of timeline " + id + " is malformed ("
                            + v.length + " bytes)");
                }
                ByteBuffer b = ByteBuffer.wrap(v);
                out.add(new Point(id, checkpoint, Lsn.of(b.getLong()), Lsn.of(b.getLong())));
            }
        }
        return out;
    }

    /** The anchor of the checkpoint record at {@code checkpointLsn}, if stored. */
    public Optional<StoredAnchor> get(TimelineId id, Lsn checkpointLsn) {
        try (ReadTxn read = tables.read()) {
            Txn<byte[]> txn = read.txn();
            byte[] v = tables.anchors().get(txn, Keys.timelineLsn(id, checkpointLsn));
            return v == null ? Optional.empty() : Optional.of(decode(txn, id, checkpointLsn, v));
        }
    }

    /** The sha-256 (hex) of every blob an anchor refers to: garbage collection keeps them. */
    public static Set<String> referencedBlobs(Tables tables, Txn<byte[]> txn) {
        Set<String> out = new HashSet<>();
        try (TableCursor c = tables.anchors().openCursor(txn)) {
            for (boolean ok = c.first(); ok; ok = c.next()) {
                ByteBuffer b = ByteBuffer.wrap(c.val());
                b.position(8 + 8 + 4);
                int controlLength = b.getInt();
                b.position(b.position() + controlLength);
                for (int n = b.getInt(); n > 0; n--) {
                    int pathLength = b.getShort() & 0xFFFF;
                    b.position(b.position() + pathLength);
                    byte[] hash = new byte[32];
                    b.get(hash);
                    out.add(Blobs.hex(hash));
                }
            }
        }
        return out;
    }

    /** The redo point of a stored anchor's (checked) value, without decoding the rest. */
    public static Lsn redoLsnOf(byte[] value) {
        if (value.length < 8) {
            throw new StoreCorruptException("an anchor of " + value.length + " bytes is malformed");
        }
        return Lsn.of(ByteBuffer.wrap(value).getLong());
    }

    /** [redo u64][record end u64][pg timeline i32][pg_control: len i32, bytes][files: n i32, (path: len u16, utf-8)(sha-256)*]. */
    private static byte[] encode(StoredAnchor a, Map<String, byte[]> hashes) {
        int size = 8 + 8 + 4 + 4 + a.pgControl().length + 4;
        for (String p : hashes.keySet()) {
            size += 2 + p.getBytes(StandardCharsets.UTF_8).length + 32;
        }
        ByteBuffer b = ByteBuffer.allocate(size);
        b.putLong(a.redoLsn().value()).putLong(a.recordEnd().value()).putInt(a.pgTimeline());
        b.putInt(a.pgControl().length).put(a.pgControl());
        b.putInt(hashes.size());
        hashes.forEach((path, hash) -> {
            byte[] p = path.getBytes(StandardCharsets.UTF_8);
            b.putShort((short) p.length).put(p).put(hash);
        });
        return b.array();
    }

    private StoredAnchor decode(Txn<byte[]> txn, TimelineId id, Lsn checkpointLsn, byte[] value) {
        try {
            ByteBuffer b = ByteBuffer.wrap(value);
            Lsn redo = Lsn.of(b.getLong());
            Lsn end = Lsn.of(b.getLong());
            int pgTimeline = b.getInt();
            byte[] control = new byte[b.getInt()];
            b.get(control);
            Map<String, byte[]> files = new LinkedHashMap<>();
            for (int n = b.getInt(); n > 0; n--) {
                byte[] p = new byte[b.getShort() & 0xFFFF];
                b.get(p);
                byte[] hash = new byte[32];
                b.get(hash);
                String path = new String(p, StandardCharsets.UTF_8);
                try {
                    files.put(path, Blobs.get(tables.blobs(), txn, Blobs.hex(hash)));
                } catch (StoreCorruptException e) { // damage names the file it holds, as an image's does
                    throw new StoreCorruptException("file " + path + " of the anchor at " + checkpointLsn + " of timeline "
                            + id + ": " + e.getMessage());
                }
            }
            return new StoredAnchor(id, checkpointLsn, redo, end, pgTimeline, control, files);
        } catch (BufferUnderflowException | IllegalArgumentException | NegativeArraySizeException e) {
            throw new StoreCorruptException("the anchor at " + checkpointLsn + " of timeline " + id + " is malformed: " + e);
        }
    }
}
