package dev.zenith.storage.gc;

import dev.zenith.storage.anchor.AnchorStore;
import dev.zenith.storage.anchor.StoredAnchor;
import dev.zenith.storage.image.ImageManifest;
import dev.zenith.storage.image.ImageStore;
import dev.zenith.storage.lmdb.Keys;
import dev.zenith.storage.lmdb.TableCursor;
import dev.zenith.storage.lmdb.Tables;
import dev.zenith.storage.page.ImagePageSource;
import dev.zenith.storage.page.Watermarks;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.storage.wal.WalLog;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.segment.WalGeometry;
import org.lmdbjava.GetOp;
import org.lmdbjava.Txn;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Comparator;
import java.util.List;
import java.util.NavigableSet;
import java.util.Set;
import java.util.TreeSet;

/**
 * The retention rule on pages (docs/page-versions.md, "GC on pages") for one timeline: its bases (own
 * images and materialization steps), the base K(P) each retained point starts from, and what that keeps:
 * the WAL from the oldest kept base's redo point, per block the newest version at or below each cut
 * (kept bases' redo points and the retained points themselves, branch points among them), the kept
 * bases' images, steps and anchors. Everything else of the timeline's own history below the newest
 * base goes. Blocking.
 */
final class PageRetention {
    /**
     * A point where every block has an exact stored version: an own image (its checkpoint LSN is target and
     * where its pages are keyed; its redo point is that LSN too, but for an image pulled from a base that was a
     * step) or a step. {@code usableFrom}: a replay from it reaches points from there on. {@code checkpoint}:
     * where its checkpoint record starts (the image's key, the step's anchor's).
     */
    record Base(Lsn redoPoint, Lsn target, Lsn usableFrom, boolean image, Lsn pagesAt, Lsn checkpoint) {
    }

    /**
     * What the retained points keep of one timeline. {@code walFrom} is null when some point has no
     * base of its own (all own WAL and versions stay). {@code images}: the image keys kept (kept bases', and the
     * newest at or below each kept base's redo point, which gives a directory built there its other files).
     * {@code horizon}: the checkpoint of the oldest kept base, from whose record's end every point is readable.
     */
    record Plan(TimelineId timeline, Lsn walFrom, List<Base> kept, NavigableSet<Lsn> cuts, Lsn newestBase,
                Set<Lsn> images, Lsn horizon) {
        boolean keepsAll() {
            return walFrom == null;
        }
    }

    private final Tables tables;
    private final WalLog wal;
    private final ImageStore images;
    private final AnchorStore anchors;
    private final Watermarks watermarks;

    PageRetention(Tables tables, WalLog wal, ImageStore images, AnchorStore anchors, Watermarks watermarks) {
        this.tables = tables;
        this.wal = wal;
        this.images = images;
        this.anchors = anchors;
        this.watermarks = watermarks;
    }

    /** The timeline's own bases, oldest first: what {@code StoreRedo.bases} starts redo runs from. */
    List<Base> bases(TimelineId id) {
        List<Base> out = new ArrayList<>();
        for (ImageManifest image : images.of(id)) {
            out.add(new Base(image.redoLsn(), image.lsn(), ImagePageSource.windowEnd(wal, id, image), true, image.lsn(),
                    image.lsn()));
        }
        List<StoredAnchor> stored = anchors.of(id);
        for (Watermarks.Step s : watermarks.steps(id)) {
            // a step whose anchor went cannot start a replay: not a base
            stored.stream().filter(a -> a.redoLsn().equals(s.redoPoint())).findFirst()
                    .ifPresent(a -> out.add(new Base(s.redoPoint(), s.target(), a.recordEnd(), false, s.redoPoint(),
                            a.checkpointLsn())));
        }
        out.sort(Comparator.comparing(Base::target));
        return out;
    }

    /** K(P): the newest base a replay to {@code point} can start from (as {@code StoreRedo.runStartFor}), or null. */
    static Base baseOf(List<Base> bases, Lsn point) {
        Base best = null;
        Lsn aligned = Lsn.of(WalGeometry.maxAlign(point.value()));
        for (Base b : bases) {
            if (!b.target().isAfter(point) && !b.usableFrom().isAfter(aligned)) {
                best = b;
            }
        }
        return best;
    }

    /**
     * What {@code points} (this timeline's retained points, branch points of its children included) and the
     * PITR window starting at {@code windowStart} (null: none on this timeline) keep.
     */
    Plan plan(TimelineId id, Collection<Lsn> points, Lsn windowStart) {
        List<Base> bases = bases(id);
        Lsn newest = bases.isEmpty() ? null : bases.get(bases.size() - 1).redoPoint();
        Set<Base> kept = new java.util.LinkedHashSet<>();
        boolean all = points.isEmpty() || bases.isEmpty();
        for (Lsn p : points) {
            Base k = baseOf(bases, p);
            if (k == null) {
                all = true;
            } else {
                kept.add(k);
            }
        }
        if (windowStart != null) {
            Base k = baseOf(bases, windowStart);
            if (k == null) {
                all = true;
            } else {
                bases.stream().filter(b -> !b.target().isBefore(k.target())).forEach(kept::add); // the window whole
            }
        }
        Lsn walFrom = all ? null : kept.stream().map(Base::redoPoint).min(Comparator.naturalOrder()).orElse(null);
        NavigableSet<Lsn> cuts = new TreeSet<>(points);
        Set<Lsn> keptImages = new TreeSet<>();
        for (Base b : kept) {
            cuts.add(b.pagesAt());
            if (b.image()) {
                keptImages.add(b.pagesAt());
            }
            // the newest image at or below its redo point gives a directory built there its other files; where its
            // WAL stays, its pages stay too (a cut): a builder may take it as the nearer start for a point after it
            bases.stream().filter(x -> x.image() && !x.pagesAt().isAfter(b.redoPoint())).max(Comparator.comparing(Base::pagesAt))
                    .ifPresent(x -> {
                        keptImages.add(x.pagesAt());
                        if (walFrom != null && !x.redoPoint().isBefore(walFrom)) {
                            cuts.add(x.pagesAt());
                        }
                    });
        }
        Lsn horizon = all ? null : kept.stream().min(Comparator.comparing(Base::target)).map(Base::checkpoint).orElse(null);
        return new Plan(id, walFrom, List.copyOf(kept), cuts, newest, keptImages, horizon);
    }

    /**
     * Frees, in {@code txn}, the versions no cut selects (below the newest cut), the own images, steps and
     * anchors (below the newest base) that are not kept bases, or with {@code apply} false only counts them.
     * The images kept also include the newest one at or below each kept redo point (its files). Returns the
     * counts: {versions, version bytes, images, index entries (steps and anchors)}.
     */
    long[] apply(Txn<byte[]> txn, Plan plan, boolean apply) {
        if (plan.keepsAll()) {
            return new long[4];
        }
        long[] versions = thinVersions(txn, plan, apply);
        Set<Lsn> keptImages = plan.images();
        Set<Lsn> keptSteps = new TreeSet<>();
        for (Base b : plan.kept()) {
            if (!b.image()) {
                keptSteps.add(b.redoPoint());
            }
        }
        byte[] prefix = Keys.timeline(plan.timeline());
        List<Lsn> imageKeys = keys(txn, tables.images(), prefix);
        long imagesFreed = 0;
        long index = 0;
        for (Lsn l : imageKeys) {
            if (!keptImages.contains(l) && l.isBefore(plan.newestBase())) {
                imagesFreed++;
                if (apply) {
                    tables.images().delete(txn, Keys.timelineLsn(plan.timeline(), l));
                }
            }
        }
        for (Lsn redo : keys(txn, tables.materialized(), prefix)) {
            if (!keptSteps.contains(redo) && redo.isBefore(plan.newestBase())) {
                index++;
                if (apply) {
                    tables.materialized().delete(txn, Keys.timelineLsn(plan.timeline(), redo));
                }
            }
        }
        try (TableCursor c = tables.anchors().openCursor(txn)) {
            for (boolean ok = c.get(prefix, GetOp.MDB_SET_RANGE); ok && Keys.hasPrefix(c.key(), prefix); ok = c.next()) {
                Lsn redo = AnchorStore.redoLsnOf(c.val());
                if (!keptSteps.contains(redo) && redo.isBefore(plan.newestBase())) {
                    index++;
                    if (apply) {
                        c.delete(); // LMDB's next step from a deleted entry is the entry after it
                    }
                }
            }
        }
        return new long[] {versions[0], versions[1], imagesFreed, index};
    }

    private static List<Lsn> keys(Txn<byte[]> txn, dev.zenith.storage.lmdb.Table table, byte[] prefix) {
        List<Lsn> out = new ArrayList<>();
        try (TableCursor c = table.openCursor(txn)) {
            for (boolean ok = c.get(prefix, GetOp.MDB_SET_RANGE); ok && Keys.hasPrefix(c.key(), prefix); ok = c.next()) {
                out.add(Keys.lsnAt(c.key(), Keys.TL));
            }
        }
        return out;
    }

    /**
     * Of each block's versions, those no cut selects: a version stays when it is the newest at or below
     * some cut (a cut in [its key, the next version's key)), or is the block's newest. Returns {versions, bytes}.
     */
    private long[] thinVersions(Txn<byte[]> txn, Plan plan, boolean apply) {
        long n = 0;
        long bytes = 0;
        try (TableCursor c = tables.pages().openCursor(txn)) {
            byte[] prefix = Keys.timeline(plan.timeline());
            byte[] previous = null;
            int previousSize = 0;
            for (boolean ok = c.get(prefix, GetOp.MDB_SET_RANGE); ok && Keys.hasPrefix(c.key(), prefix); ok = c.next()) {
                byte[] key = c.key();
                int size = c.valueLength();
                if (previous != null && Arrays.equals(previous, 0, Keys.BLOCK_PREFIX, key, 0, Keys.BLOCK_PREFIX)) {
                    Lsn cut = plan.cuts().ceiling(Keys.lsnAt(previous, Keys.BLOCK_PREFIX));
                    if (cut != null && !cut.isBefore(Keys.lsnAt(key, Keys.BLOCK_PREFIX))) {
                        // no cut in [its key, the next version's key): superseded before a cut needs it
                        n++;
                        bytes += previousSize;
                        if (apply) {
                            if (!c.get(previous, GetOp.MDB_SET_KEY)) {
                                throw new IllegalStateException("lost the cursor position while thinning page versions");
                            }
                            c.delete();
                            if (!c.get(key, GetOp.MDB_SET_KEY)) {
                                throw new IllegalStateException("lost the cursor position while thinning page versions");
                            }
                        }
                    }
                }
                previous = key;
                previousSize = size;
            }
        }
        return new long[] {n, bytes};
    }
}
