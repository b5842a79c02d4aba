package dev.zenith.storage.gc;

import dev.zenith.storage.anchor.AnchorStore;
import dev.zenith.storage.image.ImageManifest;
import dev.zenith.storage.image.ImageStore;
import dev.zenith.storage.index.PageIndex;
import dev.zenith.storage.journal.WalJournals;
import dev.zenith.storage.lmdb.Keys;
import dev.zenith.storage.lmdb.Tables;
import dev.zenith.storage.meta.DocumentStore;
import dev.zenith.storage.page.Watermarks;
import dev.zenith.storage.timeline.Timeline;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.storage.timeline.TimelineStore;
import dev.zenith.storage.wal.WalLog;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.change.PageChange;
import dev.zenith.wal.segment.WalGeometry;
import dev.zenith.storage.lmdb.ReadTxn;
import org.lmdbjava.Txn;

import java.util.Collection;
import java.util.HashMap;
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
 *
 * <p>The work per table is done by {@link RetainedPoints} (what stays), {@link HorizonTrim} (a timeline's
 * entries below its horizon), {@link TimelineDrop} (a timeline nothing uses) and {@link BlobSweep}. With
 * page bases on ({@link #useMaterializedBases}), what a point keeps is its base on pages instead of an image
 * ({@link PageRetention}, docs/page-versions.md "GC on pages").
 */
public final class GarbageCollector {
    private final Tables tables;
    private final TimelineStore timelines;
    private final WalLog wal;
    private final ImageStore images;
    private final WalJournals journals;
    private final TimelineDrop drops;
    private final HorizonTrim trim;
    private final BlobSweep blobSweep;
    private final PageRetention pageRetention;
    /** Points start from materialized bases (docs/page-versions.md, "GC on pages"), not only from images. */
    private volatile boolean materializedBases;

    public GarbageCollector(Tables tables, TimelineStore timelines, WalLog wal, ImageStore images, WalJournals journals,
                            DocumentStore documents, AnchorStore anchors, Watermarks watermarks) {
        this.tables = tables;
        this.timelines = timelines;
        this.wal = wal;
        this.images = images;
        this.journals = journals;
        this.drops = new TimelineDrop(tables, documents);
        this.trim = new HorizonTrim(tables);
        this.blobSweep = new BlobSweep(tables);
        this.pageRetention = new PageRetention(tables, wal, images, anchors, watermarks);
    }

    /**
     * Whether a retained point keeps its base K(P), an image or a materialization step, with the WAL from K's
     * redo point (the rule on pages), rather than the newest image at or below it with the WAL from the image.
     * Only for a daemon whose data-directory builders start from K(P) (docs/page-versions.md).
     */
    public void useMaterializedBases(boolean on) {
        materializedBases = on;
    }

    /**
     * Frees WAL, images and page versions that none of the {@code retained} points (per timeline: snapshots,
     * the start of a PITR window) nor any timeline's end or branch point needs, then the journals of the
     * timelines it deleted and the blobs no image refers to any more.
     */
    public GcStats collect(Map<TimelineId, ? extends Collection<Lsn>> retained) {
        return collect(retained, Map.of());
    }

    /** As above, {@code windows} naming the start of each timeline's PITR window (all of it stays readable). */
    public GcStats collect(Map<TimelineId, ? extends Collection<Lsn>> retained, Map<TimelineId, Lsn> windows) {
        GcStats stats = run(retained, windows, false);
        stats.timelinesFreed().forEach(journals::delete);
        long blobs = images.withoutImports(blobSweep::sweep);
        return stats.plus(new GcStats(0, 0, 0, 0, 0, List.of(), blobs));
    }

    /** What {@link #collect} would free, counted in read transactions (blocks no writer). */
    public GcStats ifCollected(Map<TimelineId, ? extends Collection<Lsn>> retained) {
        return ifCollected(retained, Map.of());
    }

    /** What {@link #collect(Map, Map)} would free. */
    public GcStats ifCollected(Map<TimelineId, ? extends Collection<Lsn>> retained, Map<TimelineId, Lsn> windows) {
        return run(retained, windows, true);
    }

    /**
     * Frees what nothing keeps, or with {@code dryRun} only counts it (in read transactions). Blobs are
     * left to {@link BlobSweep}.
     */
    private GcStats run(Map<TimelineId, ? extends Collection<Lsn>> retained, Map<TimelineId, Lsn> windows,
                        boolean dryRun) {
        Map<TimelineId, Timeline> all = new HashMap<>();
        timelines.all().forEach(t -> all.put(t.id(), t));
        Set<TimelineId> inUse = RetainedPoints.inUse(all, retained.keySet());
        Map<TimelineId, Lsn> ownedWindows = new HashMap<>(); // a window reaching below a branch point is the parent's
        windows.forEach((id, w) -> {
            if (all.containsKey(id)) {
                ownedWindows.merge(RetainedPoints.ownerOf(all, all.get(id), w).id(), w, Lsn::min);
            }
        });
        GcStats total = GcStats.NONE;
        for (Map.Entry<TimelineId, Set<Lsn>> e : RetainedPoints.keepPoints(wal, all, inUse, retained).entrySet()) {
            PageRetention.Plan plan = materializedBases
                    ? pageRetention.plan(e.getKey(), e.getValue(), ownedWindows.get(e.getKey())) : null;
            total = total.plus(collect(e.getKey(), e.getValue(), plan, dryRun));
        }
        for (TimelineId dead : RetainedPoints.unusedDeepestFirst(all, inUse)) {
            if (!dryRun) {
                timelines.forget(dead); // before its deletion commits: from now on its record is read from LMDB
            }
            total = total.plus(drops.drop(dead, dryRun));
            if (!dryRun) {
                timelines.forget(dead); // a reader that decoded it meanwhile: its decoded form goes too
            }
        }
        return total;
    }

    /**
     * Frees the timeline's history below what {@code points} need: with a {@code plan} (the rule on pages), the
     * WAL and index below the oldest kept base and what the plan frees; without, below the oldest image needed.
     */
    private GcStats collect(TimelineId id, Set<Lsn> points, PageRetention.Plan plan, boolean dryRun) {
        // The oldest own image any point needs; a point with no own image below it needs all own WAL.
        Lsn oldestImage = null;
        Lsn oldestRedo = plan == null ? null : plan.walFrom();
        boolean needsAllWal = plan == null ? points.isEmpty() : plan.keepsAll();
        for (Lsn p : plan == null ? points : Set.<Lsn>of()) {
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
        // a dry run reads (a counted read transaction, closed after its Txn: closing twice is a no-op)
        try (ReadTxn read = dryRun ? tables.read() : null; Txn<byte[]> txn = dryRun ? read.txn() : tables.write()) {
            boolean apply = !dryRun;
            if (!needsAllWal && oldestRedo != null) {
                Lsn horizon = Lsn.of(oldestRedo.value() - oldestRedo.value() % WalGeometry.WAL_SEGMENT_SIZE);
                walFreed = trim.dropWalBelow(txn, id, horizon, apply);
                index += trim.dropChangesBelow(txn, id, horizon, apply); // the last below may hold changes above
                index += trim.dropKeysBelow(txn, tables.checkpoints(), id, horizon, Keys.TL, apply);
                // anchors whose redo point's WAL went are of no use (keys are checkpoint LSNs, after the redo point)
                index += trim.dropKeysBelow(txn, tables.anchors(), id, horizon, Keys.TL, apply);
                index += trim.dropCommitsBelow(txn, id, horizon, apply);
                // the page index: below the horizon only the newest entry of each block, fork and database
                // is still asked (the state there, or "changed since v" for an older v); hint-only changes never are
                index += trim.dropHistoryBelow(txn, tables.blockChanges(), id, horizon, Keys.BLOCK_PREFIX,
                        flags -> (flags[0] & PageChange.HINT_ONLY) != 0, apply);
                index += trim.dropHistoryBelow(txn, tables.relSizes(), id, horizon, Keys.TL + 13, v -> false, apply);
                index += trim.dropHistoryBelow(txn, tables.databases(), id, horizon, Keys.TL + 8, v -> false, apply);
                if (apply) {
                    PageIndex.raiseBase(tables, txn, id, horizon); // below it the index no longer tells every state
                }
            }
            if (oldestImage != null) {
                imagesFreed = trim.dropKeysBelow(txn, tables.images(), id, oldestImage, Keys.TL, apply);
                if (!needsAllWal) {
                    // a point below the first own image (a branch before its first clean stop) is read by redo runs
                    // from the timeline's steps, which start from the newest version at or below their redo points:
                    // like its WAL, every own version stays
                    versions = trim.dropSupersededVersions(txn, id, oldestImage, apply);
                }
            }
            if (plan != null) {
                long[] freed = pageRetention.apply(txn, plan, apply);
                versions = new long[] {freed[0], freed[1]};
                imagesFreed += (int) freed[2];
                index += freed[3];
                if (apply && plan.horizon() != null) {
                    images.raiseHorizon(txn, id, plan.horizon()); // older points no longer all readable
                }
            }
            if (apply) {
                txn.commit();
            }
        }
        return new GcStats(walFreed, imagesFreed, versions[0], versions[1], index, List.of(), 0);
    }
}
