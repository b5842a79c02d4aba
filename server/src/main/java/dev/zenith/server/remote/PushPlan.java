package dev.zenith.server.remote;

import dev.zenith.objectstore.catalogue.TimelineStep;
import dev.zenith.storage.Store;
import dev.zenith.storage.failure.StoreException;
import dev.zenith.server.anchor.AnchoredStart;
import dev.zenith.storage.image.ImageManifest;
import dev.zenith.storage.timeline.Timeline;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.segment.WalSegments;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Optional;

/**
 * What a branch at {@code (timeline, lsn)} needs, as the store has it: the lineage (root first), the base a compute
 * there starts from (the newest image while its WAL is stored; else the newest materialized anchor below the
 * snapshot, {@link AnchoredStart}, whose directory is built from page versions) and the WAL from that base's redo
 * segment up to the snapshot, as
 * ranges of the timelines that own it. Garbage collection on pages keeps exactly that base and WAL for a snapshot
 * (docs/page-versions.md), not the image's. A non-root timeline's WAL is taken from its branch point (where its own
 * WAL begins), so a pull can append it. Blocking (store reads).
 *
 * @param image      the image whose files a directory at the base has (the base itself when {@code anchored} is empty)
 * @param anchored   the directory at a materialized anchor, when the base is one
 * @param checkpoint the base's checkpoint record (the pushed image's LSN)
 * @param redo       its redo point: replay starts there
 */
record PushPlan(List<Timeline> lineage, ImageManifest image, Optional<AnchoredStart.Plan> anchored, Lsn checkpoint,
                Lsn redo, List<WalRange> wal) {
    /** WAL of one timeline, {@code [start, end)}. */
    record WalRange(TimelineId timeline, Lsn start, Lsn end) {
    }

    static PushPlan of(Store store, TimelineId timeline, Lsn lsn) {
        List<Timeline> lineage = new ArrayList<>();
        for (Optional<Timeline> t = store.timelines().get(timeline); t.isPresent();
             t = t.get().parentId().flatMap(p -> store.timelines().get(p))) {
            lineage.add(t.get());
        }
        if (lineage.isEmpty()) {
            throw new StoreException("no timeline " + timeline);
        }
        Collections.reverse(lineage);
        ImageManifest image = store.images().imageFor(timeline, lsn)
                .orElseThrow(() -> new StoreException("timeline " + timeline + " has no image before " + lsn));
        // The image while its WAL is stored (the same files in every push of a history: a later push sends only WAL);
        // once garbage collection freed it, the base the collection kept for the snapshot.
        boolean imageWal = store.wal().ownStart(image.timeline()).map(s -> !s.isAfter(image.redoLsn())).orElse(false);
        AnchoredStart.Choice start = imageWal ? AnchoredStart.Choice.none("the image's WAL is stored")
                : AnchoredStart.choose(store, timeline, image, lsn);
        Lsn redo = start.plan().map(AnchoredStart.Plan::redo).orElse(image.redoLsn());
        Lsn checkpoint = start.plan().map(AnchoredStart.Plan::checkpoint).orElse(image.lsn());
        Lsn walStart = Lsn.max(segmentStart(redo), store.wal().start(timeline).orElse(redo));
        List<WalRange> wal = walRanges(lineage, walStart, lsn);
        return new PushPlan(lineage, image, start.plan(), checkpoint, redo, wal);
    }

    /**
     * The same snapshot from another base: the one an earlier snapshot of this history was pushed with, which the remote
     * holds ({@link PushedBase}), with the WAL from its redo segment (the remote lists the part up to that snapshot).
     */
    PushPlan onto(PushedBase base, Lsn lsn) {
        return new PushPlan(lineage, image, Optional.empty(), base.checkpoint(), base.redo(),
                walRanges(lineage, segmentStart(base.redo()), lsn));
    }

    static Lsn segmentStart(Lsn lsn) {
        return Lsn.of(WalSegments.segmentStart(WalSegments.segmentNumber(lsn)));
    }

    /** The lineage's WAL from {@code walStart} up to {@code lsn}: each timeline's from its branch point (or the start). */
    static List<WalRange> walRanges(List<Timeline> lineage, Lsn walStart, Lsn lsn) {
        List<WalRange> wal = new ArrayList<>();
        for (int i = 0; i < lineage.size(); i++) {
            Timeline t = lineage.get(i);
            Lsn end = i + 1 < lineage.size() ? lineage.get(i + 1).branchLsn() : lsn;
            if (!end.isAfter(walStart)) {
                continue; // below the base: not needed
            }
            Lsn begin = t.isRoot() ? walStart : Lsn.max(t.branchLsn(), walStart);
            if (end.isAfter(begin)) {
                wal.add(new WalRange(t.id(), begin, end));
            }
        }
        return wal;
    }

    List<TimelineStep> steps() {
        return lineage.stream().map(t -> new TimelineStep(t.id().toString(), t.parentId().map(TimelineId::toString),
                t.isRoot() ? 0 : t.branchLsn().value(), t.pgTimeline())).toList();
    }
}
