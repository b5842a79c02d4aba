package dev.zenith.server.remote;

import dev.zenith.objectstore.catalogue.TimelineStep;
import dev.zenith.storage.Store;
import dev.zenith.storage.failure.StoreException;
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
 * What a branch at {@code (timeline, lsn)} needs, as the store has it: the lineage (root first), the image a
 * compute there starts from, and the WAL from that image's redo segment up to the snapshot, as ranges of the
 * timelines that own it. A non-root timeline's WAL is taken from its branch point (where its own WAL begins),
 * so a pull can append it. Blocking (store reads).
 */
record PushPlan(List<Timeline> lineage, ImageManifest image, List<WalRange> wal) {
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
        Lsn walStart = Lsn.max(Lsn.of(WalSegments.segmentStart(WalSegments.segmentNumber(image.redoLsn()))),
                store.wal().start(timeline).orElse(image.redoLsn()));
        List<WalRange> wal = new ArrayList<>();
        for (int i = 0; i < lineage.size(); i++) {
            Timeline t = lineage.get(i);
            Lsn end = i + 1 < lineage.size() ? lineage.get(i + 1).branchLsn() : lsn;
            if (!end.isAfter(walStart)) {
                continue; // below the image: not needed
            }
            Lsn start = t.isRoot() ? walStart : t.branchLsn();
            if (end.isAfter(start)) {
                wal.add(new WalRange(t.id(), start, end));
            }
        }
        return new PushPlan(lineage, image, wal);
    }

    List<TimelineStep> steps() {
        return lineage.stream().map(t -> new TimelineStep(t.id().toString(), t.parentId().map(TimelineId::toString),
                t.isRoot() ? 0 : t.branchLsn().value(), t.pgTimeline())).toList();
    }
}
