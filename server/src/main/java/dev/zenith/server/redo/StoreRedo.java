package dev.zenith.server.redo;

import dev.zenith.server.anchor.Anchor;
import dev.zenith.storage.Store;
import dev.zenith.storage.failure.StoreException;
import dev.zenith.storage.anchor.StoredAnchor;
import dev.zenith.storage.image.FileEntry;
import dev.zenith.storage.image.ImageManifest;
import dev.zenith.storage.image.RelationSize;
import dev.zenith.storage.page.ImagePageSource;
import dev.zenith.storage.page.PageVersion;
import dev.zenith.storage.page.Watermarks;
import dev.zenith.storage.timeline.PgTimelines;
import dev.zenith.storage.timeline.Timeline;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.storage.wal.BlockRef;
import dev.zenith.wal.ForkNumber;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.RelTag;
import dev.zenith.wal.RelFileNode;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.SortedSet;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;

/**
 * Sparse redo runs against one store: where they may start (the timeline's {@link Base}s: its
 * images and background materialization's steps, each with its anchor), and one run from a base
 * to a target, built from what the store holds (the anchor, the pages at the base, the newest
 * image's directories and small files, the WAL). Runs wait for a slot of their kind ({@link RunSlots}: reads
 * and background steps apart). Blocking: call from workers. Thread-safe.
 */
public final class StoreRedo {
    /**
     * A point at which every block of the timeline has an exact stored version (the newest at or
     * below it): an image, or a materialization step.
     *
     * @param redoPoint  replay from {@code anchor} starts here; versions at or below it are the starting pages
     * @param target     the last record end at or before the redo point: the state the versions hold
     * @param anchor     the checkpoint whose redo point this is
     * @param usableFrom targets before this cannot be reached from the anchor (its record must be replayed first):
     *                   a step's anchor record end, an image's next record start
     * @param freeSpaceMaps every free-space map fork's length at {@code target} (an image's files, a step's run),
     *                   null when not known (steps stored before they were kept)
     */
    public record Base(Lsn redoPoint, Lsn target, Anchor anchor, Lsn usableFrom, Map<RelTag, Long> freeSpaceMaps) {
        public Base(Lsn redoPoint, Lsn target, Anchor anchor, Lsn usableFrom) {
            this(redoPoint, target, anchor, usableFrom, null);
        }
    }

    /** The WAL of a timeline's lineage as the store holds it: it only grows (complete records are never rewritten). */
    private record StoredWal(Store store, TimelineId timeline) implements WalSource {
        @Override
        public void writeSegments(int pgTimeline, Lsn from, Lsn to, Path walDir) throws IOException {
            // from is the anchor's redo point: PostgreSQL reads nothing of its segment before it but the first page
            store.pgWal().writeSegmentsForRecovery(timeline, from, to, walDir, bytes -> { });
        }

        @Override
        public void writeSegments(int pgTimeline, Lsn from, Lsn to, Path walDir, Lsn checkedTo) throws IOException {
            store.pgWal().writeSegmentsForRecovery(timeline, from, to, walDir, bytes -> { }, checkedTo);
        }

        @Override
        public boolean growsOnly() {
            return true;
        }
    }

    private record Known(Optional<Watermarks.Step> watermark, Optional<Lsn> newestImage, List<Base> bases) {
    }

    private final Store store;
    private final SparseRedo redo;
    private final RunSlots slots;
    private final Map<TimelineId, Known> known = new ConcurrentHashMap<>();

    public StoreRedo(Store store, SparseRedo redo, RunSlots slots) {
        this.store = store;
        this.redo = redo;
        this.slots = slots;
    }

    /** Every run, read or step, in the one slot {@code slot} gives (tests). */
    public StoreRedo(Store store, SparseRedo redo, Semaphore slot) {
        this(store, redo, RunSlots.shared(slot));
    }

    public Store store() {
        return store;
    }

    /**
     * The bases a read or run of the timeline may start from, oldest first: its ancestors' below each branch
     * point (a base there is the state of this timeline's lineage too, and its anchor is replayed through the
     * lineage's WAL, across the PostgreSQL timeline switch at the branch point: {@link #run}), then its own
     * images and materialization steps. So a branch before its first clean stop or step has bases.
     */
    public List<Base> bases(TimelineId tl) {
        List<Base> out = new ArrayList<>();
        java.util.ArrayDeque<List<Base>> lineage = new java.util.ArrayDeque<>();
        lineage.push(ownBases(tl));
        for (Optional<Timeline> t = store.timelines().get(tl); t.isPresent() && t.get().parent() != null; ) {
            Lsn branchPoint = t.get().branchLsn();
            Lsn key = IntervalChanges.versionKey(branchPoint);
            // usable below the branch point: its state at or before it, its anchor's record in the shared WAL
            lineage.push(ownBases(t.get().parent()).stream().filter(b -> !b.target().isAfter(branchPoint)
                    && !b.usableFrom().isAfter(key)).toList());
            t = store.timelines().get(t.get().parent());
        }
        while (!lineage.isEmpty()) {
            out.addAll(lineage.pop());
        }
        return List.copyOf(out);
    }

    /** The timeline's own bases, oldest first (its images and materialization steps). */
    private List<Base> ownBases(TimelineId tl) {
        Optional<Watermarks.Step> watermark = store.watermarks().watermark(tl);
        Optional<Lsn> newestImage = store.images().latestImageLsnAtOrBefore(tl, Lsn.of(Long.MAX_VALUE)); // one key read
        Known k = known.get(tl);
        if (k != null && k.watermark().equals(watermark) && k.newestImage().equals(newestImage)) {
            return k.bases();
        }
        List<Base> bases = new ArrayList<>();
        for (ImageManifest image : store.images().of(tl)) {
            bases.add(imageBase(tl, image));
        }
        List<StoredAnchor> anchors = store.anchors().of(tl);
        for (Watermarks.Step s : store.watermarks().steps(tl)) {
            Optional<StoredAnchor> anchor = anchors.stream().filter(x -> x.redoLsn().equals(s.redoPoint())).findFirst();
            if (anchor.isEmpty()) {
                continue; // GC dropped its anchor with the WAL below its horizon: the step's versions stay, no run starts there
            }
            StoredAnchor a = anchor.get();
            bases.add(new Base(s.redoPoint(), s.target(), anchor(a), a.recordEnd(), s.freeSpaceMaps()));
        }
        bases.sort(Comparator.comparing(Base::target));
        known.put(tl, new Known(watermark, newestImage, List.copyOf(bases)));
        return List.copyOf(bases);
    }

    /** The newest base whose state is at or before {@code lsn}: exactness questions at {@code lsn} start from it. */
    public Optional<Base> stateAtOrBefore(TimelineId tl, Lsn lsn) {
        Base best = null;
        for (Base b : bases(tl)) {
            if (!b.target().isAfter(lsn)) {
                best = b;
            }
        }
        return Optional.ofNullable(best);
    }

    /** The newest base a run to {@code target} can start from (its anchor's record ends at or before it). */
    public Optional<Base> runStartFor(TimelineId tl, Lsn target) {
        Base best = null;
        for (Base b : bases(tl)) {
            // a record end and the next record's start (usableFrom of an image) compare MAXALIGNed
            if (!b.target().isAfter(target) && !b.usableFrom().isAfter(IntervalChanges.versionKey(target))) {
                best = b;
            }
        }
        return Optional.ofNullable(best);
    }

    public static Anchor anchor(StoredAnchor a) {
        return Anchor.of(a.pgControl(), a.files());
    }

    private Base imageBase(TimelineId tl, ImageManifest image) {
        Map<String, byte[]> files = new HashMap<>();
        for (FileEntry f : image.files()) {
            String dir = f.path().contains("/") ? f.path().substring(0, f.path().lastIndexOf('/')) : "";
            if (Anchor.DIRECTORIES.contains(dir)) {
                files.put(f.path(), store.images().imageFile(image, f.path()).orElseThrow());
            }
        }
        Anchor anchor = Anchor.of(store.images().pgControl(image), files);
        Map<RelTag, Long> fsm = new HashMap<>();
        for (RelationSize r : image.relations()) {
            if (r.rel().fork() == ForkNumber.FSM) {
                fsm.put(r.rel(), r.blocks());
            }
        }
        // an image pulled from a base that was a step holds its pages at its redo point, not at its checkpoint
        return new Base(image.redoLsn(), image.redoLsn(), anchor, ImagePageSource.windowEnd(store.wal(), tl, image), fsm);
    }

    /**
     * One read's run: the wanted blocks at {@code target} replayed from {@code base}, each wanted block's page handed
     * to {@code sink} (null where the block does not exist at the target) after all were verified. Waits for a read
     * slot. Returns what the run did and where its time went.
     */
    public RedoReport run(TimelineId tl, Base base, Lsn target, SortedSet<BlockRef> wanted, PageSink sink)
            throws IOException {
        return run(RunSlots.Kind.READ, tl, base, target, wanted, sink);
    }

    /** As above, in a slot of {@code kind}: a background step's run takes a step slot. */
    public RedoReport run(RunSlots.Kind kind, TimelineId tl, Base base, Lsn target, SortedSet<BlockRef> wanted,
                          PageSink sink) throws IOException {
        return slots.hold(kind, () -> {
            // free-space maps as long as at the base (zeros): redo extends, truncates and drops them from there
            RedoRequest request = new RedoRequest(base.anchor(), target, wanted, startingPages(tl, base),
                    base.freeSpaceMaps() == null ? Map.of() : base.freeSpaceMaps(), scratchBase(tl, base, wanted),
                    new StoredWal(store, tl), timelinesTo(tl, base, target));
            RedoReport report = redo.run(request, sink);
            java.util.logging.Logger.getLogger(StoreRedo.class.getName()).fine(() -> "redo to " + target + ": " + report);
            return report;
        });
    }

    /**
     * {@code work} holding a read slot (waiting for one): runs it starts go in that slot, so what it decides
     * before them (a target at the newest stored WAL) is decided only once a run can start.
     */
    public <T> T inReadSlot(RunSlots.SlotWork<T> work) throws IOException {
        return slots.hold(RunSlots.Kind.READ, work);
    }

    /** The PostgreSQL timeline of the target on the lineage, and the history files a run needs to get there. */
    private RedoRequest.Timelines timelinesTo(TimelineId tl, Base base, Lsn target) {
        // the history files even on the anchor's timeline: the page holding a branch's first records still says
        // the parent's timeline, which PostgreSQL accepts only from the history
        int tli = PgTimelines.tliAt(store.pgTimelines().entries(tl), target.plus(-1));
        return new RedoRequest.Timelines(tli, store.pgTimelines().historyFiles(tl).headMap(tli, true));
    }

    /** The versions at the base's redo point, read a batch at a time. */
    private PageSource startingPages(TimelineId tl, Base base) {
        return new PageSource() {
            @Override
            public byte[] page(BlockRef b) {
                return store.pages().get(tl, b.rel(), b.block(), base.redoPoint()).map(PageVersion::page).orElse(null);
            }

            @Override
            public List<byte[]> pages(List<BlockRef> blocks) {
                List<byte[]> out = new ArrayList<>(blocks.size());
                for (PageVersion v : store.pages().getAll(tl, blocks, base.redoPoint())) {
                    out.add(v == null ? null : v.page());
                }
                return out;
            }
        };
    }

    /** The newest image's directories and small files at or below the base, with the wanted blocks' databases. */
    private ScratchBase scratchBase(TimelineId tl, Base base, SortedSet<BlockRef> wanted) {
        ImageManifest image = store.images().latestImageAtOrBefore(tl, base.redoPoint()).orElseThrow(() ->
                new StoreException("timeline " + tl + " has no image at or below " + base.redoPoint()));
        SortedSet<String> dirs = new TreeSet<>(image.directories());
        for (BlockRef b : wanted) {
            RelFileNode n = b.rel().node();
            if (n.spcOid() == RelFileNode.DEFAULT_TABLESPACE) {
                dirs.add("base/" + Integer.toUnsignedString(n.dbOid()));
            }
        }
        Map<String, byte[]> files = new HashMap<>();
        for (FileEntry f : image.files()) {
            files.put(f.path(), store.images().imageFile(image, f.path()).orElseThrow());
        }
        return new ScratchBase(dirs, files);
    }
}
