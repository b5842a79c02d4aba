package dev.zenith.storage.index;

import dev.zenith.storage.failure.StoreException;
import dev.zenith.storage.image.DataDirectoryLayout;
import dev.zenith.storage.image.ImageManifest;
import dev.zenith.storage.image.ImageStore;
import dev.zenith.storage.image.RelationSize;
import dev.zenith.storage.lmdb.Keys;
import dev.zenith.storage.lmdb.Tables;
import dev.zenith.storage.timeline.Timeline;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.storage.timeline.TimelineStore;
import dev.zenith.storage.wal.WalIndexer;
import dev.zenith.storage.wal.WalLog;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.RelFileNode;
import dev.zenith.wal.RelTag;
import dev.zenith.wal.change.DatabaseDir;
import dev.zenith.wal.change.PageChange;
import dev.zenith.wal.change.PageChanges;
import dev.zenith.wal.change.RelationSizes;
import dev.zenith.wal.decoder.DecodeResult;
import dev.zenith.wal.decoder.EndOfWal;
import dev.zenith.wal.decoder.WalStreamDecoder;
import dev.zenith.wal.record.DecodedRecord;
import dev.zenith.wal.rmgr.DbaseCreate;
import dev.zenith.wal.rmgr.RelmapUpdate;
import dev.zenith.wal.rmgr.WalPayload;
import dev.zenith.wal.rmgr.MainDataDecoder;
import dev.zenith.storage.lmdb.ReadTxn;
import org.lmdbjava.Txn;

import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.logging.Logger;

/**
 * Writes the page index (block_changes, rel_sizes, databases) from the WAL stored in LMDB, off the
 * acknowledgement path: it decodes the records after a timeline's watermark, works out what each
 * changes with {@link PageChanges} and {@link RelationSizes} (the rules proven against PostgreSQL's
 * files), and commits a batch of entries together with the new watermark in ONE transaction, so a
 * crash loses at most a batch, redone from the watermark at the next call.
 *
 * <p>A root timeline's index starts at its first image (its forks and database directories are
 * the first entries); a branch's at its branch point, once its parent's index has reached it (the
 * state there is the parent's, read through the lineage). The current sizes of each timeline are
 * kept in memory between batches (rebuilt from the entries after a restart). One writer at a time
 * (synchronized); blocking.
 */
public final class PageIndexer {
    private static final Logger LOG = Logger.getLogger(PageIndexer.class.getName());
    /** WAL decoded per batch by default: one LMDB transaction each. */
    public static final long DEFAULT_BATCH_BYTES = 16L << 20;
    private static final int READ_CHUNK = 1 << 20;
    private static final Comparator<byte[]> KEY_ORDER = Arrays::compareUnsigned;

    private final Tables tables;
    private final TimelineStore timelines;
    private final WalLog wal;
    private final ImageStore images;
    /** Timelines being indexed: the sizes at their watermark. */
    private final Map<TimelineId, Tracked> tracked = new HashMap<>();
    private volatile long batchBytes = DEFAULT_BATCH_BYTES;
    /** Set when the store closes: no batch starts after it. */
    private boolean closed;

    private static final class Tracked {
        final RelationSizes sizes;
        final Lsn base;
        Lsn upTo;
        /** Where the next record starts. */
        Lsn next;

        Tracked(RelationSizes sizes, Lsn base, Lsn upTo, Lsn next) {
            this.sizes = sizes;
            this.base = base;
            this.upTo = upTo;
            this.next = next;
        }
    }

    public PageIndexer(Tables tables, TimelineStore timelines, WalLog wal, ImageStore images) {
        this.tables = tables;
        this.timelines = timelines;
        this.wal = wal;
        this.images = images;
    }

    /** WAL bytes decoded per transaction. */
    public void batchBytes(long bytes) {
        if (bytes < 8192) {
            throw new IllegalArgumentException("a page index batch of " + bytes + " bytes");
        }
        this.batchBytes = bytes;
    }

    /**
     * Indexes every timeline's stored WAL, parents before their branches, one batch per timeline
     * (call again while it returns more than 0). Returns the records indexed.
     */
    public synchronized long indexAll() {
        if (closed) {
            return 0; // the store is closing: not even its timelines are read
        }
        long records = 0;
        for (Timeline t : rootsFirst(timelines.all())) {
            records += step(t.id());
        }
        return records;
    }

    /** Indexes until the index answers at {@code at} on the timeline, or its stored records run out. */
    public void catchUp(TimelineId id, Lsn at) {
        Timeline[] owner = new Timeline[1];
        if (indexedAt(id, at, owner)) {
            return;
        }
        Timeline t = owner[0];
        synchronized (this) {
            catchUpFrom(t, at);
        }
    }

    /** Whether the index is written far enough to answer at {@code at}: no {@link #catchUp} needed. */
    public boolean indexedAt(TimelineId id, Lsn at) {
        return indexedAt(id, at, new Timeline[1]);
    }

    private boolean indexedAt(TimelineId id, Lsn at, Timeline[] owner) {
        // The common case (indexed far enough) cheaply: once per page-service question, in a reused transaction.
        return tables.reading(txn -> {
            Timeline t = timelines.known(txn, id);
            while (t.parent() != null && !at.isAfter(t.branchLsn())) {
                t = timelines.known(txn, t.parent());
            }
            owner[0] = t;
            IndexWatermark w = PageIndex.watermark(tables, txn, t.id());
            return w != null && !PageIndex.aligned(at).isAfter(PageIndex.aligned(w.upTo()));
        });
    }

    private void catchUpFrom(Timeline t, Lsn at) {
        if (t.parent() != null) {
            catchUp(t.parent(), t.branchLsn());
        }
        while (true) {
            Tracked s = tracked.get(t.id());
            if (s != null && !PageIndex.aligned(at).isAfter(PageIndex.aligned(s.upTo))) {
                return;
            }
            if (step(t.id()) == 0) {
                return;
            }
        }
    }

    /** Waits for a batch in progress; none starts afterwards (the store is closing). */
    public synchronized void close() {
        closed = true;
    }

    /** One batch of the timeline: returns the records indexed (0: nothing to do, or it cannot start yet). */
    synchronized long step(TimelineId id) {
        if (closed) {
            return 0;
        }
        Tracked s;
        try {
            s = tracked.containsKey(id) ? tracked.get(id) : load(id);
        } catch (StoreException e) {
            LOG.warning("page index of timeline " + id + " cannot start: " + e.getMessage());
            return 0;
        }
        if (s == null) {
            return 0;
        }
        tracked.put(id, s);
        Lsn last;
        Lsn end;
        try (ReadTxn read = tables.read()) {
            Txn<byte[]> txn = read.txn();
            if (timelines.find(txn, id) == null) {
                tracked.remove(id); // collected
                return 0;
            }
            last = wal.lastRecordEnd(txn, id);
            end = wal.storedEnd(txn, id);
        }
        if (last == null || end == null || !last.isAfter(s.upTo)) {
            return 0;
        }
        try {
            return indexBatch(id, s, last, end);
        } catch (RuntimeException e) {
            tracked.remove(id); // its sizes may be part way through a batch: rebuilt from the entries next time
            throw e;
        }
    }

    private long indexBatch(TimelineId id, Tracked s, Lsn last, Lsn end) {
        Batch batch = new Batch(id);
        Lsn from = s.next;
        WalStreamDecoder decoder = WalStreamDecoder.startingAt(from);
        Lsn upTo = s.upTo;
        Lsn next = s.next;
        long records = 0;
        Lsn at = from;
        while (at.isBefore(end) && upTo.isBefore(last) && at.minus(from) < batchBytes) {
            byte[] chunk = wal.read(id, at, (int) Math.min(READ_CHUNK, end.minus(at)));
            if (chunk.length == 0) {
                break;
            }
            decoder.feed(chunk, 0, chunk.length);
            at = at.plus(chunk.length);
            for (DecodeResult r = decoder.poll(); ; r = decoder.poll()) {
                if (r instanceof DecodedRecord rec) {
                    batch.add(rec, s.sizes);
                    upTo = rec.endLsn();
                    next = rec.nextRecordLsn(); // past a WAL switch's padding too
                    records++;
                } else if (r instanceof EndOfWal invalid) {
                    LOG.warning("page index of timeline " + id + " stops at " + upTo + ": " + invalid);
                    at = end;
                    break;
                } else {
                    break;
                }
            }
        }
        if (records == 0) {
            return 0;
        }
        if (!batch.commit(new IndexWatermark(s.base, upTo, next))) {
            tracked.remove(id);
            return 0;
        }
        s.upTo = upTo;
        s.next = next;
        return records;
    }

    /** The entries of one batch, sorted by key, and their commit with the watermark. */
    private final class Batch {
        private final TimelineId id;
        private final TreeMap<byte[], Integer> changes = new TreeMap<>(KEY_ORDER);
        private final TreeMap<byte[], byte[]> sizes = new TreeMap<>(KEY_ORDER);
        private final TreeMap<byte[], byte[]> databases = new TreeMap<>(KEY_ORDER);

        Batch(TimelineId id) {
            this.id = id;
        }

        void add(DecodedRecord rec, RelationSizes model) {
            Lsn lsn = rec.alignedEndLsn();
            for (PageChange c : PageChanges.of(rec)) {
                changes.merge(Keys.page(id, c.rel(), (int) c.block(), lsn), c.flags(), (a, b) -> a | b);
            }
            model.apply(rec);
            WalPayload payload = MainDataDecoder.decode(rec).orElse(null);
            DatabaseDir copy = payload instanceof DbaseCreate d && d.fileCopy()
                    ? new DatabaseDir((int) d.tablespaceId(), (int) d.dbId()) : null;
            for (RelTag rel : model.takeChangedForks()) {
                var n = model.nblocks(rel);
                sizes.put(Keys.relSize(id, rel, lsn), IndexValues.forkSize(n));
                if (copy != null && n.isPresent() && rel.node().spcOid() == copy.spcOid() && rel.node().dbOid() == copy.dbOid()) {
                    // copied with the directory, no block reference: every block changed here
                    for (long b = 0; b < n.getAsLong(); b++) {
                        changes.merge(Keys.page(id, rel, (int) b, lsn), PageChange.COPIED, (x, y) -> x | y);
                    }
                }
            }
            for (DatabaseDir dir : model.takeChangedDatabases()) {
                databases.put(Keys.database(id, dir.spcOid(), dir.dbOid(), lsn),
                        IndexValues.database(model.databases().contains(dir)));
            }
            // relation maps: a data directory built at an LSN needs each database's pg_filenode.map there
            if (payload instanceof RelmapUpdate u) {
                databases.put(Keys.database(id, (int) u.tablespaceId(), (int) u.dbId(), lsn),
                        IndexValues.databaseWithMap(u.mapFile()));
            } else if (copy != null && payload instanceof DbaseCreate d) {
                // the template's directory is copied whole, its map with it
                byte[] map = relationMapBefore((int) d.srcTablespaceId(), (int) d.srcDbId(), lsn);
                if (map != null && model.databases().contains(copy)) {
                    databases.put(Keys.database(id, copy.spcOid(), copy.dbOid(), lsn), IndexValues.databaseWithMap(map));
                }
            }
        }

        /** The directory's map at {@code lsn}: this batch's newest entry for it, else the stored index's. */
        private byte[] relationMapBefore(int spcOid, int dbOid, Lsn lsn) {
            byte[] key = Keys.database(id, spcOid, dbOid, lsn);
            Map.Entry<byte[], byte[]> pending = databases.floorEntry(key);
            if (pending != null && Arrays.equals(pending.getKey(), 0, Keys.TL + 8, key, 0, Keys.TL + 8)) {
                return IndexValues.relationMapOf(pending.getValue());
            }
            try (ReadTxn read = tables.read()) {
                Txn<byte[]> txn = read.txn();
                return PageIndex.relationMapAt(tables, txn, timelines.lineage(txn, id, lsn), spcOid, dbOid);
            }
        }

        /** False when the timeline went meanwhile (garbage collection): nothing is written. */
        boolean commit(IndexWatermark watermark) {
            try (Txn<byte[]> txn = tables.write()) {
                if (timelines.find(txn, id) == null) {
                    return false;
                }
                changes.forEach((k, flags) -> tables.blockChanges().put(txn, k, new byte[] {(byte) (int) flags}));
                sizes.forEach((k, v) -> tables.relSizes().put(txn, k, v));
                databases.forEach((k, v) -> tables.databases().put(txn, k, v));
                IndexWatermark stored = PageIndex.watermark(tables, txn, id); // GC may have raised its base meanwhile
                Lsn base = stored == null ? watermark.base() : Lsn.max(stored.base(), watermark.base());
                tables.indexState().put(txn, Keys.timeline(id), new IndexWatermark(base, watermark.upTo(), watermark.next()).encode());
                txn.commit();
                return true;
            }
        }
    }

    /**
     * The timeline's state at its watermark; for a timeline never indexed, its start, written: a root's
     * first image, a branch's branch point once the parent's index reaches it. Null when it cannot
     * start yet.
     */
    private Tracked load(TimelineId id) {
        Timeline t;
        IndexWatermark w;
        try (ReadTxn read = tables.read()) {
            Txn<byte[]> txn = read.txn();
            t = timelines.find(txn, id);
            if (t == null) {
                return null;
            }
            w = PageIndex.watermark(tables, txn, id);
            if (w != null) {
                return new Tracked(stateAt(txn, id, w.upTo()), w.base(), w.upTo(), w.next());
            }
            if (t.parent() != null) {
                IndexWatermark parent = PageIndex.watermark(tables, txn, t.parent());
                Lsn parentLast = wal.lastRecordEnd(txn, t.parent());
                if (parent == null || (parent.upTo().isBefore(t.branchLsn()) && (parentLast == null || parent.upTo().isBefore(parentLast)))) {
                    return null; // the parent's index has not reached the branch point yet
                }
                RelationSizes state = stateAt(txn, id, t.branchLsn());
                Tracked s = new Tracked(state, t.branchLsn(), t.branchLsn(), WalIndexer.nextRecordStart(t.branchLsn()));
                start(id, s, Map.of(), Map.of());
                return s;
            }
        }
        List<ImageManifest> own = images.of(id);
        if (own.isEmpty()) {
            return null;
        }
        ImageManifest image = own.get(0);
        Map<RelTag, Long> forks = new HashMap<>();
        for (RelationSize r : image.relations()) {
            if (RelationSizes.tracks(r.rel().fork())) {
                forks.put(r.rel(), r.blocks());
            }
        }
        Set<DatabaseDir> dirs = databaseDirectories(image.directories());
        Map<DatabaseDir, byte[]> maps = new HashMap<>();
        for (DatabaseDir d : dirs) {
            maps.put(d, images.imageFile(image, DataDirectoryLayout.relationMapFile(d)).orElse(null));
        }
        // from its redo point: the state there (an image pulled from a step holds its pages and sizes at that point)
        Tracked s = new Tracked(new RelationSizes(forks, dirs), image.redoLsn(), image.redoLsn(), image.redoLsn());
        start(id, s, forks, maps);
        return s;
    }

    /** Writes a timeline's first watermark with the entries it starts from. */
    private void start(TimelineId id, Tracked s, Map<RelTag, Long> forks, Map<DatabaseDir, byte[]> dirs) {
        try (Txn<byte[]> txn = tables.write()) {
            if (timelines.find(txn, id) == null || PageIndex.watermark(tables, txn, id) != null) {
                return;
            }
            forks.forEach((rel, n) -> tables.relSizes().put(txn, Keys.relSize(id, rel, s.base),
                    IndexValues.forkSize(java.util.OptionalLong.of(n))));
            dirs.forEach((d, map) -> tables.databases().put(txn, Keys.database(id, d.spcOid(), d.dbOid(), s.base),
                    map == null ? IndexValues.database(true) : IndexValues.databaseWithMap(map)));
            tables.indexState().put(txn, Keys.timeline(id), new IndexWatermark(s.base, s.upTo, s.next).encode());
            txn.commit();
        }
    }

    private RelationSizes stateAt(Txn<byte[]> txn, TimelineId id, Lsn at) {
        Map<RelTag, Long> forks = new HashMap<>();
        Set<DatabaseDir> dirs = new HashSet<>();
        PageIndex.forksAt(tables, txn, timelines.lineage(txn, id, at), null, null, forks, dirs);
        return new RelationSizes(forks, dirs);
    }

    /** The database directories among a data directory's: base/DB, global, pg_tblspc/SPC/PG_15_.../DB. */
    public static Set<DatabaseDir> databaseDirectories(List<String> directories) {
        Set<DatabaseDir> out = new HashSet<>();
        for (String d : directories) {
            String[] p = d.split("/");
            if (p.length == 2 && p[0].equals("base") && p[1].matches("\\d+")) {
                out.add(new DatabaseDir(RelFileNode.DEFAULT_TABLESPACE, Integer.parseUnsignedInt(p[1])));
            } else if (p.length == 1 && p[0].equals("global")) {
                out.add(new DatabaseDir(RelFileNode.GLOBAL_TABLESPACE, 0));
            } else if (p.length == 4 && p[0].equals("pg_tblspc") && p[1].matches("\\d+")
                    && p[2].equals(DataDirectoryLayout.TABLESPACE_VERSION_DIRECTORY) && p[3].matches("\\d+")) {
                out.add(new DatabaseDir(Integer.parseUnsignedInt(p[1]), Integer.parseUnsignedInt(p[3])));
            }
        }
        return out;
    }

    /** Parents before children. */
    private static List<Timeline> rootsFirst(List<Timeline> all) {
        Map<TimelineId, Timeline> byId = new HashMap<>();
        all.forEach(t -> byId.put(t.id(), t));
        Map<TimelineId, Integer> depth = new HashMap<>();
        for (Timeline t : all) {
            int d = 0;
            for (Timeline a = t; a != null && a.parent() != null; a = byId.get(a.parent())) {
                d++;
            }
            depth.put(t.id(), d);
        }
        return all.stream().sorted(Comparator.comparing((Timeline t) -> depth.get(t.id()))).toList();
    }
}
