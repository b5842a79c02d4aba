package dev.zenith.storage.gc;

import dev.zenith.storage.anchor.AnchorStore;
import dev.zenith.storage.image.ImageManifest;
import dev.zenith.storage.image.ImageStore;
import dev.zenith.storage.index.PageIndex;
import dev.zenith.storage.journal.WalJournals;
import dev.zenith.storage.meta.DocumentStore;
import dev.zenith.storage.image.ManifestCodec;
import dev.zenith.storage.lmdb.Keys;
import dev.zenith.storage.lmdb.Table;
import dev.zenith.storage.lmdb.TableCursor;
import dev.zenith.storage.lmdb.Tables;
import dev.zenith.storage.timeline.Timeline;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.storage.timeline.TimelineStore;
import dev.zenith.storage.wal.WalLog;
import dev.zenith.storage.wal.WalPositions;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.change.PageChange;
import dev.zenith.wal.segment.WalGeometry;
import org.lmdbjava.GetOp;
import org.lmdbjava.Txn;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Frees what no retained point needs. A point (timeline, LSN) stays readable when the newest image at
 * or below it and the WAL from that image's redo point up to it stay. Per timeline, everything below
 * the oldest such image goes: WAL chunks before its redo segment, older images, page versions that
 * a newer version at or below that image supersedes, and index entries before the redo point.
 *
 * <p>Retained points come from the caller (snapshots, the start of the PITR window, every timeline's
 * end); branch points of child timelines are added here, and a point on a child at or below its
 * branch point is the parent's to keep. The caller's map also says which timelines are in use (a key,
 * even with no points): a branch that is neither a key nor an ancestor of one is one nothing names any
 * more (its pg destroyed). It is deleted with everything it holds (WAL, versions, images, index
 * entries, its journal), descendants first, and keeps nothing in its parent's history. File contents
 * (blobs) that no remaining image refers to go last.
 */
public final class GarbageCollector {
    private final Tables tables;
    private final TimelineStore timelines;
    private final WalLog wal;
    private final ImageStore images;
    private final WalJournals journals;
    private final DocumentStore documents;

    public GarbageCollector(Tables tables, TimelineStore timelines, WalLog wal, ImageStore images, WalJournals journals,
                            DocumentStore documents) {
        this.tables = tables;
        this.timelines = timelines;
        this.wal = wal;
        this.images = images;
        this.journals = journals;
        this.documents = documents;
    }

    /**
     * Frees WAL, images and page versions that none of the {@code retained} points (per timeline: snapshots,
     * the start of a PITR window) nor any timeline's end or branch point needs, then the journals of the
     * timelines it deleted and the blobs no image refers to any more.
     */
    public GcStats collect(Map<TimelineId, ? extends Collection<Lsn>> retained) {
        GcStats stats = run(retained, false);
        stats.timelinesFreed().forEach(journals::delete);
        long blobs = images.withoutImports(this::sweepBlobs);
        return stats.plus(new GcStats(0, 0, 0, 0, 0, List.of(), blobs));
    }

    /** What {@link #collect} would free, counted in read transactions (blocks no writer). */
    public GcStats ifCollected(Map<TimelineId, ? extends Collection<Lsn>> retained) {
        return run(retained, true);
    }

    /**
     * Frees what nothing keeps, or with {@code dryRun} only counts it (in read transactions). Blobs are
     * left to {@link #sweepBlobs}.
     */
    private GcStats run(Map<TimelineId, ? extends Collection<Lsn>> retained, boolean dryRun) {
        Map<TimelineId, Timeline> all = new HashMap<>();
        timelines.all().forEach(t -> all.put(t.id(), t));
        Set<TimelineId> inUse = inUse(all, retained.keySet());
        GcStats total = GcStats.NONE;
        for (Map.Entry<TimelineId, Set<Lsn>> e : keepPoints(all, inUse, retained).entrySet()) {
            total = total.plus(collect(e.getKey(), e.getValue(), dryRun));
        }
        for (TimelineId dead : unusedDeepestFirst(all, inUse)) {
            total = total.plus(drop(dead, dryRun));
        }
        return total;
    }

    /** Every timeline's points: the caller's, its end, its children's branch points; pushed up to the owner. */
    private Map<TimelineId, Set<Lsn>> keepPoints(Map<TimelineId, Timeline> all, Set<TimelineId> inUse,
                                                 Map<TimelineId, ? extends Collection<Lsn>> retained) {
        Map<TimelineId, Set<Lsn>> keep = new HashMap<>();
        for (Timeline t : all.values()) {
            if (!inUse.contains(t.id())) {
                continue;
            }
            Collection<Lsn> given = retained.get(t.id());
            List<Lsn> points = new ArrayList<>(given == null ? List.of() : given);
            wal.lastRecordEnd(t.id()).ifPresent(points::add);
            if (t.parent() != null) {
                points.add(t.branchLsn());
            }
            for (Lsn p : points) {
                Timeline owner = t;
                // at or below a branch point, the data lives in the parent
                while (owner.parent() != null && !p.isAfter(owner.branchLsn())) {
                    owner = all.get(owner.parent());
                }
                keep.computeIfAbsent(owner.id(), k -> new HashSet<>()).add(p);
            }
            keep.computeIfAbsent(t.id(), k -> new HashSet<>());
        }
        return keep;
    }

    /** The timelines not in use, each after its descendants (a child never outlives the parent it names). */
    private static List<TimelineId> unusedDeepestFirst(Map<TimelineId, Timeline> all, Set<TimelineId> inUse) {
        Map<TimelineId, Integer> depth = new HashMap<>();
        for (Timeline t : all.values()) {
            if (inUse.contains(t.id())) {
                continue;
            }
            int d = 0;
            for (Timeline a = t; a != null && a.parent() != null; a = all.get(a.parent())) {
                d++;
            }
            depth.put(t.id(), d);
        }
        List<TimelineId> out = new ArrayList<>(depth.keySet());
        out.sort(Comparator.comparing((TimelineId id) -> depth.get(id)).reversed());
        return out;
    }

    /**
     * Deletes a timeline nothing uses and everything keyed by it, in one transaction: after a crash it is
     * either whole or gone.
     */
    private GcStats drop(TimelineId id, boolean dryRun) {
        long[] walFreed = {0};
        long[] versions = {0, 0};
        long index = 0;
        int imagesFreed;
        try (Txn<byte[]> txn = dryRun ? tables.read() : tables.write()) {
            boolean apply = !dryRun;
            byte[] prefix = Keys.timeline(id);
            deleteAll(txn, tables.walChunks(), prefix, apply, length -> walFreed[0] += length);
            deleteAll(txn, tables.pages(), prefix, apply, length -> {
                versions[0]++;
                versions[1] += length;
            });
            imagesFreed = deleteAll(txn, tables.images(), prefix, apply, length -> { });
            index += deleteAll(txn, tables.changesByLsn(), prefix, apply, length -> { });
            index += deleteAll(txn, tables.commits(), prefix, apply, length -> { });
            index += deleteAll(txn, tables.checkpoints(), prefix, apply, length -> { });
            index += deleteAll(txn, tables.blockChanges(), prefix, apply, length -> { });
            index += deleteAll(txn, tables.relSizes(), prefix, apply, length -> { });
            index += deleteAll(txn, tables.databases(), prefix, apply, length -> { });
            index += deleteAll(txn, tables.anchors(), prefix, apply, length -> { });
            index += deleteAll(txn, tables.materialized(), prefix, apply, length -> { });
            if (apply) {
                tables.indexState().delete(txn, prefix);
                tables.walState().delete(txn, prefix);
                tables.timelines().delete(txn, prefix);
                documents.deleteOf(txn, id.toString());
                txn.commit();
            }
        }
        return new GcStats(walFreed[0], imagesFreed, versions[0], versions[1], index, List.of(id), 0);
    }

    /**
     * Every entry whose key starts with {@code prefix}; each value's length is shown to {@code counted} first.
     * Values are not read: a damaged entry of a timeline nothing uses goes with it.
     */
    private static int deleteAll(Txn<byte[]> txn, Table table, byte[] prefix, boolean apply,
                                 java.util.function.IntConsumer counted) {
        int n = 0;
        try (TableCursor c = table.openCursor(txn)) {
            for (boolean ok = c.get(prefix, GetOp.MDB_SET_RANGE); ok && Keys.hasPrefix(c.key(), prefix); ok = c.next()) {
                counted.accept(c.valueLength());
                n++;
                if (apply) {
                    c.delete(); // LMDB's next step from a deleted entry is the entry after it
                }
            }
        }
        return n;
    }

    /**
     * Deletes the file contents no image manifest refers to (images of every timeline, after this
     * collection's deletions). The caller makes sure no import is between writing a blob and its manifest.
     * Returns how many went.
     */
    private long sweepBlobs() {
        Set<String> referenced = new HashSet<>();
        List<byte[]> unreferenced = new ArrayList<>();
        try (Txn<byte[]> txn = tables.read()) { // read first: the write lock is held only to delete
            try (TableCursor c = tables.images().openCursor(txn)) { // checked: a damaged manifest stops the sweep
                for (boolean ok = c.first(); ok; ok = c.next()) {
                    ImageManifest m = ManifestCodec.decode(c.val());
                    referenced.add(m.pgControlSha256());
                    m.files().forEach(f -> referenced.add(f.sha256()));
                }
            }
            referenced.addAll(AnchorStore.referencedBlobs(tables, txn));
            try (TableCursor c = tables.blobs().openCursor(txn)) {
                for (boolean ok = c.first(); ok; ok = c.next()) {
                    if (!referenced.contains(HexFormat.of().formatHex(c.key()))) {
                        unreferenced.add(c.key());
                    }
                }
            }
        }
        if (!unreferenced.isEmpty()) {
            try (Txn<byte[]> txn = tables.write()) {
                // an anchor stored since the read above may share a blob: keep what anchors refer to now
                Set<String> anchored = AnchorStore.referencedBlobs(tables, txn);
                unreferenced.stream().filter(k -> !anchored.contains(HexFormat.of().formatHex(k)))
                        .forEach(k -> tables.blobs().delete(txn, k));
                txn.commit();
            }
        }
        return unreferenced.size();
    }

    /** Roots, the timelines the caller names, and their ancestors. */
    private static Set<TimelineId> inUse(Map<TimelineId, Timeline> all, Set<TimelineId> named) {
        Set<TimelineId> used = new HashSet<>();
        for (Timeline t : all.values()) {
            if (t.parent() == null) {
                used.add(t.id());
            }
        }
        for (TimelineId id : named) {
            Timeline t = all.get(id);
            while (t != null && used.add(t.id())) { // up to the first ancestor already counted
                t = t.parent() == null ? null : all.get(t.parent());
            }
        }
        return used;
    }

    private GcStats collect(TimelineId id, Set<Lsn> points, boolean dryRun) {
        // The oldest own image any point needs; a point with no own image below it needs all own WAL.
        Lsn oldestImage = null;
        Lsn oldestRedo = null;
        boolean needsAllWal = points.isEmpty();
        for (Lsn p : points) {
            Optional<ImageManifest> img = images.imageFor(id, p).filter(i -> i.timeline().equals(id));
            if (img.isEmpty()) {
                needsAllWal = true;
                continue;
            }
            if (oldestImage == null || img.get().lsn().isBefore(oldestImage)) {
                oldestImage = img.get().lsn();
            }
            if (oldestRedo == null || img.get().redoLsn().isBefore(oldestRedo)) {
                oldestRedo = img.get().redoLsn();
            }
        }
        long walFreed = 0;
        int imagesFreed = 0;
        long[] versions = {0, 0};
        long index = 0;
        try (Txn<byte[]> txn = dryRun ? tables.read() : tables.write()) {
            boolean apply = !dryRun;
            if (!needsAllWal && oldestRedo != null) {
                Lsn horizon = Lsn.of(oldestRedo.value() - oldestRedo.value() % WalGeometry.WAL_SEGMENT_SIZE);
                walFreed = dropWalBelow(txn, id, horizon, apply);
                index += dropKeysBelow(txn, tables.changesByLsn(), id, horizon, Keys.TL, apply);
                index += dropKeysBelow(txn, tables.checkpoints(), id, horizon, Keys.TL, apply);
                // anchors whose redo point's WAL went are of no use (keys are checkpoint LSNs, after the redo point)
                index += dropKeysBelow(txn, tables.anchors(), id, horizon, Keys.TL, apply);
                index += dropCommitsBelow(txn, id, horizon, apply);
                // the page index: below the horizon only the newest entry of each block, fork and database
                // is still asked (the state there, or "changed since v" for an older v); hint-only changes never are
                index += dropHistoryBelow(txn, tables.blockChanges(), id, horizon, Keys.BLOCK_PREFIX,
                        flags -> (flags[0] & PageChange.HINT_ONLY) != 0, apply);
                index += dropHistoryBelow(txn, tables.relSizes(), id, horizon, Keys.TL + 13, v -> false, apply);
                index += dropHistoryBelow(txn, tables.databases(), id, horizon, Keys.TL + 8, v -> false, apply);
                if (apply) {
                    PageIndex.raiseBase(tables, txn, id, horizon); // below it the index no longer tells every state
                }
            }
            if (oldestImage != null) {
                imagesFreed = dropKeysBelow(txn, tables.images(), id, oldestImage, Keys.TL, apply);
                versions = dropSupersededVersions(txn, id, oldestImage, apply);
            }
            if (apply) {
                txn.commit();
            }
        }
        return new GcStats(walFreed, imagesFreed, versions[0], versions[1], index, List.of(), 0);
    }

    /** Whole chunks that end at or before the horizon; the timeline's WAL then starts at the next one. */
    private long dropWalBelow(Txn<byte[]> txn, TimelineId id, Lsn horizon, boolean apply) {
        long freed = 0;
        Lsn newStart = null;
        try (TableCursor c = tables.walChunks().openCursor(txn)) {
            byte[] prefix = Keys.timeline(id);
            for (boolean ok = c.get(prefix, GetOp.MDB_SET_RANGE); ok && Keys.hasPrefix(c.key(), prefix); ok = c.next()) {
                Lsn start = Keys.lsnAt(c.key(), Keys.TL);
                Lsn end = start.plus(c.valueLength());
                if (end.isAfter(horizon)) {
                    newStart = start;
                    break;
                }
                freed += c.valueLength();
                if (apply) {
                    c.delete();
                }
            }
        }
        byte[] state = tables.walState().get(txn, Keys.timeline(id));
        if (apply && freed > 0 && state != null && newStart != null) {
            WalPositions p = WalPositions.decode(state);
            tables.walState().put(txn, Keys.timeline(id), new WalPositions(newStart, p.end(), p.lastRecordEnd()).encode());
        }
        return freed;
    }

    /** Entries keyed (timeline, LSN, ...) with LSN below {@code limit}. */
    private int dropKeysBelow(Txn<byte[]> txn, Table dbi, TimelineId id, Lsn limit, int lsnOffset,
                              boolean apply) {
        int n = 0;
        try (TableCursor c = dbi.openCursor(txn)) {
            byte[] prefix = Keys.timeline(id);
            for (boolean ok = c.get(prefix, GetOp.MDB_SET_RANGE); ok && Keys.hasPrefix(c.key(), prefix); ok = c.next()) {
                if (!Keys.lsnAt(c.key(), lsnOffset).isBefore(limit)) {
                    break;
                }
                if (apply) {
                    c.delete();
                }
                n++;
            }
        }
        return n;
    }

    /**
     * Entries keyed (group, LSN) below {@code limit} that a newer entry of the same group below it
     * supersedes, and those {@code unasked} (by value) below it.
     */
    private int dropHistoryBelow(Txn<byte[]> txn, Table table, TimelineId id, Lsn limit, int groupLength,
                                 java.util.function.Predicate<byte[]> unasked, boolean apply) {
        int n = 0;
        try (TableCursor c = table.openCursor(txn)) {
            byte[] prefix = Keys.timeline(id);
            byte[] previous = null; // the group's newest entry below the limit so far
            for (boolean ok = c.get(prefix, GetOp.MDB_SET_RANGE); ok && Keys.hasPrefix(c.key(), prefix); ok = c.next()) {
                byte[] key = c.key();
                if (!Keys.lsnAt(key, groupLength).isBefore(limit)) {
                    previous = null;
                    continue;
                }
                if (unasked.test(c.val())) {
                    n++;
                    if (apply) {
                        c.delete(); // LMDB's next step from a deleted entry is the entry after it
                    }
                    continue;
                }
                if (previous != null && Arrays.equals(key, 0, groupLength, previous, 0, groupLength)) {
                    n++;
                    if (apply) {
                        if (!c.get(previous, GetOp.MDB_SET_KEY)) {
                            throw new IllegalStateException("lost the cursor position while collecting the page index");
                        }
                        c.delete();
                        if (!c.get(key, GetOp.MDB_SET_KEY)) {
                            throw new IllegalStateException("lost the cursor position while collecting the page index");
                        }
                    }
                }
                previous = key;
            }
        }
        return n;
    }

    /** The commit-time index is ordered by time; its LSN follows it. */
    private int dropCommitsBelow(Txn<byte[]> txn, TimelineId id, Lsn limit, boolean apply) {
        int n = 0;
        try (TableCursor c = tables.commits().openCursor(txn)) {
            byte[] prefix = Keys.timeline(id);
            for (boolean ok = c.get(prefix, GetOp.MDB_SET_RANGE); ok && Keys.hasPrefix(c.key(), prefix); ok = c.next()) {
                if (Keys.lsnAt(c.key(), Keys.TL + 8).isBefore(limit)) {
                    if (apply) {
                        c.delete();
                    }
                    n++;
                }
            }
        }
        return n;
    }

    /**
     * Of each block's versions at or below {@code image}, only the newest can still be read (by that
     * image or later ones); the older ones go. Returns {versions, stored bytes}.
     */
    private long[] dropSupersededVersions(Txn<byte[]> txn, TimelineId id, Lsn image, boolean apply) {
        long n = 0;
        long bytes = 0;
        try (TableCursor c = tables.pages().openCursor(txn)) {
            byte[] prefix = Keys.timeline(id);
            byte[] previousBlock = null;
            boolean previousAtOrBelow = false;
            int previousSize = 0;
            for (boolean ok = c.get(prefix, GetOp.MDB_SET_RANGE); ok && Keys.hasPrefix(c.key(), prefix); ok = c.next()) {
                byte[] key = c.key();
                byte[] block = Arrays.copyOf(key, Keys.BLOCK_PREFIX);
                boolean atOrBelow = !Keys.lsnAt(key, Keys.BLOCK_PREFIX).isAfter(image);
                int size = c.valueLength();
                if (atOrBelow && previousAtOrBelow && Arrays.equals(block, previousBlock)) {
                    // the previous entry (same block, older, also at or below) is superseded by this one
                    n++;
                    bytes += previousSize;
                    if (apply) {
                        c.prev();
                        c.delete();
                        if (!c.get(key, GetOp.MDB_SET_KEY)) {
                            throw new IllegalStateException("lost the cursor position while collecting page versions");
                        }
                    }
                }
                previousBlock = block;
                previousAtOrBelow = atOrBelow;
                previousSize = size;
            }
        }
        return new long[] {n, bytes};
    }
}
