package dev.zenith.server.redo;

import dev.zenith.storage.anchor.StoredAnchor;
import dev.zenith.storage.page.PageWrite;
import dev.zenith.storage.page.Watermarks;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.storage.wal.BlockRef;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.segment.WalGeometry;

import java.io.IOException;
import dev.zenith.wal.RelTag;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeSet;

/**
 * Background materialization of one store's timeline (docs/page-versions.md): from the newest base
 * (an image or the last step) to the newest stored anchor A after it, one sparse redo run over the
 * blocks the page index says changed in between (no WAL decoded here); their pages and the step (A's redo point, the last record end
 * before it) are committed in one LMDB transaction. A crash before that commit leaves the
 * watermark where it was and the run's scratch directory, which the next start removes; the step
 * is then simply done again. Blocking: run on a worker, one step at a time per timeline.
 */
public final class Materializer {
    /** What a step did. */
    public record StepResult(Watermarks.Step step, int pages) {
    }

    private static final java.util.logging.Logger LOG = java.util.logging.Logger.getLogger(Materializer.class.getName());

    private final StoreRedo redo;
    private final StepListener listener;

    public Materializer(StoreRedo redo) {
        this(redo, StepListener.NONE);
    }

    public Materializer(StoreRedo redo, StepListener listener) {
        this.redo = redo;
        this.listener = listener;
    }

    /**
     * Whether the store's cache bound (an s3 storage's) has room for the first part of a step of {@code pages} (the
     * step writer stores them in parts that fit, {@link dev.zenith.storage.lmdb.CacheRoom#pagesPerTransaction}, each
     * waiting for room in turn): eviction makes room for it, and the step waits for that a while. Otherwise the step
     * waits for the next anchor (reads meanwhile redo from the last step), rather than taking the store past its bound.
     */
    private boolean roomFor(TimelineId tl, int pages) {
        dev.zenith.storage.lmdb.CacheRoom room = redo.store().cacheRoom();
        long asked = dev.zenith.storage.lmdb.CacheRoom.STORED_PAGE_BYTES * Math.min(pages, room.pagesPerTransaction());
        if (room.admits(asked)) {
            return true;
        }
        try {
            // a check only: the step writer asks for each part's room as it writes it
            room.awaitRoom(asked, Watermarks.ROOM_WAIT, "materialization of " + pages + " pages of timeline " + tl).close();
            return true;
        } catch (dev.zenith.storage.failure.StoreException e) {
            LOG.info(e.getMessage() + "; it waits for the next anchor");
            return false;
        }
    }

    /**
     * Makes the timeline exact up to the redo point of the first stored anchor past the watermark
     * whose WAL is stored up to that redo point. Empty when there is nothing to do.
     *
     * @throws RedoException when the step cannot be made (the watermark stays)
     */
    public Optional<StepResult> step(TimelineId tl) throws IOException {
        List<StoreRedo.Base> bases = redo.bases(tl); // a branch's first step starts from its parent's base
        if (bases.isEmpty()) {
            return Optional.empty(); // no image on this lineage yet: nothing to start from
        }
        StoreRedo.Base base = bases.get(bases.size() - 1);
        Lsn stored = redo.store().wal().lastRecordEnd(tl).orElse(Lsn.INVALID);
        StoredAnchor next = null; // the first anchor past the base: each step starts from the one before
        for (StoredAnchor a : redo.store().anchors().of(tl)) {
            // an anchor on a later PostgreSQL timeline of the lineage (a branch's, from its parent's base) is
            // reached across the switch: the run follows it (StoreRedo.run)
            if (next == null && a.redoLsn().isAfter(base.redoPoint()) && !a.redoLsn().isAfter(stored)
                    && a.pgTimeline() >= base.anchor().pgTimeline()) {
                next = a;
            }
        }
        if (next == null) {
            return Optional.empty();
        }
        Lsn target = RecordBefore.endBefore(redo.store().wal(), tl, next.redoLsn());
        if (target == null || IntervalChanges.versionKey(target).isBefore(base.usableFrom())) {
            return Optional.empty();
        }
        // the wanted set and each version's key from the page index: the blocks changed since the base (the
        // files a CREATE DATABASE by FILE_COPY copies among them, the run seeding their templates' blocks)
        Map<BlockRef, Lsn> keys = redo.store().index().changedBlocks(tl, base.redoPoint(), target);
        if (!roomFor(tl, keys.size())) {
            return Optional.empty();
        }
        listener.stepStarting(redo.store(), tl, base.redoPoint(), next.redoLsn());
        Lsn absentKey = IntervalChanges.versionKey(target);
        // pages go into the step's transaction as the run hands them out: memory holds one, not the interval's
        try (Watermarks.StepWriter writer = redo.store().watermarks().stepWriter(tl)) {
            Map<RelTag, Long> fsm = new HashMap<>();
            boolean fsmKnown = base.freeSpaceMaps() != null; // the run's lengths are exact when it started from exact ones
            RedoReport report = redo.run(RunSlots.Kind.STEP, tl, base, target, new TreeSet<>(keys.keySet()), new PageSink() {
                @Override
                public void accept(BlockRef b, byte[] page) {
                    writer.put(page != null ? new PageWrite(tl, b.rel(), b.block(), keys.get(b), page)
                            // gone at the target (dropped, truncated): reads past here answer zeros, as beyond a fork's end
                            : new PageWrite(tl, b.rel(), b.block(), absentKey, new byte[WalGeometry.BLCKSZ]));
                }

                @Override
                public boolean wantsFreeSpaceMaps() {
                    return fsmKnown;
                }

                @Override
                public void acceptFreeSpaceMaps(Map<RelTag, Long> lengths) {
                    fsm.putAll(lengths);
                }
            });
            listener.stepReplayed(redo.store(), tl, report.walBytes(), report.recovery().replay());
            Watermarks.Step step = new Watermarks.Step(next.redoLsn(), target, fsmKnown ? fsm : null);
            writer.commit(step);
            listener.stepCommitted(redo.store(), tl);
            return Optional.of(new StepResult(step, writer.pages()));
        }
    }
}
