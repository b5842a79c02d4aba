package dev.zenith.server.redo;

import dev.zenith.storage.index.IndexCatchUps;
import dev.zenith.storage.index.IndexNotReadyException;
import dev.zenith.storage.page.ImagePageSource;
import dev.zenith.storage.page.PageSource;
import dev.zenith.storage.page.PageStore;
import dev.zenith.storage.page.PageUnavailableException;
import dev.zenith.storage.page.PageVersion;
import dev.zenith.storage.page.PageWrite;
import dev.zenith.storage.page.StoredPage;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.storage.wal.BlockRef;
import dev.zenith.wal.ForkNumber;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.RelTag;
import dev.zenith.wal.SlruKind;
import dev.zenith.wal.change.RelationSizes;
import dev.zenith.wal.segment.WalGeometry;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Set;
import java.util.SortedSet;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicLong;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * GetPage@LSN from page versions, by redo where none is exact (docs/page-versions.md, "GetPage").
 * For block B at X (first the last record end at or below X):
 * <ol>
 *   <li>inside an image's window, the image answers ({@link ImagePageSource});</li>
 *   <li>else, with K the newest base (image or materialization step) at or below X and C the last
 *       change of B in (K, X] that redo applies (the WAL since K, decoded: {@link IntervalChanges}),
 *       the newest stored version V at or below X is exact when there is no C, or V is keyed at or
 *       after C (versions are keyed by the change that made them);</li>
 *   <li>else one sparse redo run from the newest base whose anchor is usable at X, wanting every block
 *       changed since that base; requests for the same (timeline, X) that arrive while a run is being
 *       gathered share it. The run's pages are answered, then stored (keyed by their last change), so
 *       every later read at X is an LMDB read (reads meanwhile join the run and get its pages).</li>
 * </ol>
 * A read that may be answered later than X (the request asked for the latest LSN: {@link #pageLater(TimelineId,
 * RelTag, int, Lsn, Lsn)}) joins its timeline's one <em>floating</em> run instead: its target is chosen when it
 * gets a read slot, the end of the stored WAL then, so while a compute writes, every such read waiting meanwhile
 * is answered by one run (before, each had a target and a run of its own, one after the other), and that run
 * stores every block changed up to near the end: the first from a base makes every block changed since the base, a
 * later one only those changed since the previous one's target (the others it made already), and it stores them
 * once it gave its read slot back to the next.
 * SLRU segments outside an image's window come from a redo run to the LSN ({@link #slruSegment}). Sizes,
 * existence and database sizes are the image windows' here; the page service asks the page index for them at
 * any LSN first ({@code IndexedPageSource} wraps this). Blocking, except that {@link #pageLater} hands a redo
 * run to the run executor; the page service calls it on its page I/O threads.
 */
public final class RedoPageSource implements PageSource {
    private static final Logger LOG = Logger.getLogger(RedoPageSource.class.getName());
    /** How long a run waits for other blocks wanted at the same LSN before it starts. */
    private static final long GATHER_MILLIS = 5;
    private static final int INTERVALS_KEPT = 16;
    /** Timelines whose floating runs' newest target is kept ({@link #floatingMade}). */
    private static final int FLOATING_TIMELINES_KEPT = 256;
    private static final int SLRU_RUNS_KEPT = 4;

    private final StoreRedo redo;
    private final Executor runs;
    /** Tried before a redo run for a latest read (a follower standby's files). */
    private final LivePages live;
    /** The page index caught up for reads past its watermark, gathered (one transaction for all waiting). */
    private final IndexCatchUps catchUps;
    private final ImagePageSource images;
    private final LatestReadCounts counts = new LatestReadCounts();
    private final Map<String, IntervalChanges> intervals = new LinkedHashMap<>(16, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, IntervalChanges> eldest) {
            return size() > INTERVALS_KEPT;
        }
    };
    private final Map<String, Batch> gathering = new HashMap<>();
    /** Per timeline, the floating batch still gathering (its target not chosen yet; guarded by {@link #gathering}). */
    private final Map<TimelineId, Batch> floating = new HashMap<>();
    /**
     * Per timeline, the newest target of a floating run, at which every block's version is exact (the first run made
     * every block changed since its base, each later one those changed since the previous one's target) or, where a
     * follower came, answered from its files (that first run made only the blocks asked). It holds whatever base the
     * next run starts from, as long as that base's redo point is at or before it (its decoded WAL then tells what
     * changed since): after a new base materialized, its first run does not remake everything changed since the base
     * (7,094 blocks in one bench run). The timelines read most recently only: a deleted timeline's entry goes in
     * time, and a forgotten one costs its next run only the blocks changed since its base. Guarded by {@link #gathering}.
     */
    private final Map<TimelineId, Lsn> floatingMade = new LinkedHashMap<>(16, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<TimelineId, Lsn> eldest) {
            return size() > FLOATING_TIMELINES_KEPT;
        }
    };
    /** Batches gathering or running, until answered (guarded by {@link #gathering}): later reads may join one. */
    private final List<Batch> inFlight = new ArrayList<>();
    /** SLRU segment files at (timeline, target), by the runs that made them: the last few asked. */
    private final Map<String, CompletableFuture<Map<String, byte[]>>> slrus = new LinkedHashMap<>(8, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, CompletableFuture<Map<String, byte[]>>> eldest) {
            return size() > SLRU_RUNS_KEPT;
        }
    };

    /** Free-space map lengths at (timeline, target), by the runs that made them: the last few asked. */
    private final Map<String, CompletableFuture<Map<RelTag, Long>>> fsms = new LinkedHashMap<>(8, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, CompletableFuture<Map<RelTag, Long>>> eldest) {
            return size() > SLRU_RUNS_KEPT;
        }
    };

    /** Per timeline, the newest point whose free-space map lengths a run made or {@link #keptSince} proved. */
    private final Map<TimelineId, KnownMaps> newestKnownMaps = new HashMap<>();
    private final AtomicLong freeSpaceMapRuns = new AtomicLong();

    /** Free-space map lengths known at one point of a timeline. */
    private record KnownMaps(Lsn at, Map<RelTag, Long> lengths) {
    }

    /**
     * Blocks wanted at one (timeline, target) from one base, answered by one run. A floating batch's target is
     * chosen when its run starts, in [{@code floor}, {@code cap}]: at or after every member's own LSN, at or before
     * the latest each accepts. Fields guarded by {@link #gathering}.
     */
    private static final class Batch {
        final TimelineId timeline;
        /** Null while a floating batch gathers. */
        Lsn target;
        Lsn floor;
        Lsn cap;
        final SortedSet<BlockRef> blocks = new TreeSet<>();
        final CompletableFuture<Map<BlockRef, byte[]>> result = new CompletableFuture<>();
        /** Every block the run makes, once it started (null while gathering). */
        Set<BlockRef> running;

        Batch(TimelineId timeline, Lsn target) {
            this.timeline = timeline;
            this.target = target;
        }

        static Batch floating(TimelineId timeline, Lsn floor, Lsn cap) {
            Batch b = new Batch(timeline, null);
            b.floor = floor;
            b.cap = cap;
            return b;
        }

        /** Whether a read at {@code at} that accepts up to {@code upTo} can join this floating batch; it narrows it. */
        boolean admits(Lsn at, Lsn upTo) {
            Lsn newFloor = Lsn.max(floor, at);
            Lsn newCap = Lsn.min(cap, upTo);
            if (newFloor.isAfter(newCap)) {
                return false;
            }
            floor = newFloor;
            cap = newCap;
            return true;
        }

        /**
         * Whether this batch's run makes {@code block} as it is at a later target: no change of it lies between this
         * batch's target and that one ({@code lastChange}, its last change at or before the later target, is at or
         * before this target, so the run replays it), and the run makes it (gathering: it is added).
         */
        boolean answers(TimelineId timeline, BlockRef block, Lsn laterTarget, Lsn lastChange) {
            return target != null && this.timeline.equals(timeline) && !target.isAfter(laterTarget) && !lastChange.isAfter(target)
                    && (running == null || running.contains(block));
        }
    }

    /** {@code runs}: where redo runs are gathered and led (their threads wait for PostgreSQL, not the caller's). */
    public RedoPageSource(StoreRedo redo, Executor runs) {
        this(redo, runs, LivePages.NONE, new IndexCatchUps(redo.store().index().indexer(), runs));
    }

    /**
     * As above; {@code live}: asked first for a latest read's main-fork page that would need a run; {@code catchUps}:
     * the store's gathering of page index catch-ups.
     */
    public RedoPageSource(StoreRedo redo, Executor runs, LivePages live, IndexCatchUps catchUps) {
        this.redo = redo;
        this.runs = runs;
        this.live = live;
        this.catchUps = catchUps;
        this.images = new ImagePageSource(redo.store().pages(), redo.store().images(), redo.store().wal());
    }

    @Override
    public boolean exists(TimelineId timeline, RelTag rel, Lsn lsn) {
        try {
            return images.exists(timeline, rel, lsn);
        } catch (PageUnavailableException e) {
            if (rel.fork() != ForkNumber.FSM || e.reason() != PageUnavailableException.Reason.NOT_MATERIALIZED) {
                throw e;
            }
        }
        return requireFreeSpaceMaps(timeline, lsn).containsKey(rel);
    }

    @Override
    public int nblocks(TimelineId timeline, RelTag rel, Lsn lsn) {
        try {
            return images.nblocks(timeline, rel, lsn);
        } catch (PageUnavailableException e) {
            if (rel.fork() != ForkNumber.FSM || e.reason() != PageUnavailableException.Reason.NOT_MATERIALIZED) {
                throw e;
            }
        }
        // an absent free-space map has 0 blocks, as Neon answers (PostgreSQL asks before it creates one)
        return (int) (long) requireFreeSpaceMaps(timeline, lsn).getOrDefault(rel, 0L);
    }

    private Map<RelTag, Long> requireFreeSpaceMaps(TimelineId timeline, Lsn lsn) {
        return freeSpaceMaps(timeline, lsn).orElseThrow(() -> new PageUnavailableException(
                PageUnavailableException.Reason.NOT_MATERIALIZED, "free-space map sizes at " + lsn + " are not known:"
                + " no image or materialized step of timeline " + timeline + " below it carries them"));
    }

    /**
     * Free-space maps are not WAL-logged, but heap redo extends them (XLogRecordPageWithFreeSpace: inserts and
     * updates that leave a page under a fifth free, prunes, vacuums, all-visible marks), truncations cut them
     * and drops remove them; so their lengths at X are those of the newest image at or below X replayed to X.
     * At a base that knows them (an image's files, a materialization step's run), its; elsewhere one redo run
     * from such a base to the last record end at or below X, every block changed since wanted and the maps
     * seeded at the base's lengths, reads them back (kept for the last few LSNs; the run's pages are stored);
     * no run where the lengths of the newest known point provably still hold ({@link #keptSince}). Empty where no
     * base below knows them (steps stored before they were kept).
     */
    @Override
    public Optional<Map<RelTag, Long>> freeSpaceMaps(TimelineId timeline, Lsn lsn) {
        return fsmStart(timeline, lsn).map(s -> s.known() != null ? s.known() : fsmAt(timeline, s.start(), s.target()));
    }

    @Override
    public CompletableFuture<Void> freeSpaceMapsReady(TimelineId timeline, Lsn lsn) {
        Optional<FsmStart> s = fsmStart(timeline, lsn);
        if (s.isEmpty() || s.get().known() != null) {
            return CompletableFuture.completedFuture(null);
        }
        CompletableFuture<Map<RelTag, Long>> made;
        synchronized (fsms) {
            made = fsms.get(timeline + "@" + s.get().target());
        }
        if (made != null && made.isDone() && !made.isCompletedExceptionally()) {
            return CompletableFuture.completedFuture(null);
        }
        return CompletableFuture.runAsync(() -> fsmAt(timeline, s.get().start(), s.get().target()), runs);
    }

    /** Where the free-space maps at a target come from: a base that holds them ({@code known}), or a run from {@code start}. */
    private record FsmStart(StoreRedo.Base start, Lsn target, Map<RelTag, Long> known) {
    }

    private Optional<FsmStart> fsmStart(TimelineId timeline, Lsn lsn) {
        Optional<StoreRedo.Base> state = redo.stateAtOrBefore(timeline, lsn);
        if (state.isEmpty()) {
            return Optional.empty();
        }
        Lsn target = Optional.ofNullable(interval(timeline, state.get().redoPoint(), lsn).lastRecordEndAtOrBefore(lsn))
                .orElse(state.get().target());
        StoreRedo.Base start = null;
        for (StoreRedo.Base b : redo.bases(timeline)) {
            if (b.freeSpaceMaps() != null && !b.target().isAfter(target)
                    && (holdsStateAt(b, target) || !b.usableFrom().isAfter(IntervalChanges.versionKey(target)))) {
                start = b;
            }
        }
        if (start == null) {
            return Optional.empty();
        }
        return Optional.of(new FsmStart(start, target, holdsStateAt(start, target) ? start.freeSpaceMaps()
                : keptSince(timeline, start, target)));
    }

    /**
     * The lengths at the target without a run, when provably those of the newest known point at or after the start
     * (the start itself, or a later run's or proof's): no record since that point creates, truncates or drops
     * relations and none extends a map past its known length ({@link IntervalChanges#freeSpaceMapsKept}). Null when
     * that cannot be shown: a run tells.
     */
    private Map<RelTag, Long> keptSince(TimelineId timeline, StoreRedo.Base start, Lsn target) {
        KnownMaps from = new KnownMaps(start.target(), start.freeSpaceMaps());
        synchronized (newestKnownMaps) {
            KnownMaps newer = newestKnownMaps.get(timeline);
            if (newer != null && newer.at().isAfter(from.at()) && !newer.at().isAfter(target)) {
                from = newer;
            }
        }
        if (!from.at().equals(target)
                && !interval(timeline, start.redoPoint(), target).freeSpaceMapsKept(from.at(), target, from.lengths())) {
            return null;
        }
        remember(timeline, target, from.lengths());
        return from.lengths();
    }

    private void remember(TimelineId timeline, Lsn at, Map<RelTag, Long> lengths) {
        synchronized (newestKnownMaps) {
            KnownMaps now = newestKnownMaps.get(timeline);
            if (now == null || at.isAfter(now.at())) {
                newestKnownMaps.put(timeline, new KnownMaps(at, lengths));
            }
        }
    }

    /** How GetPages outside image windows were answered, and what their redo runs cost (tests; the log has them). */
    LatestReadCounts.Counts latestReadCounts() {
        return counts.counts();
    }

    /** How many redo runs were made for free-space map lengths (not for pages or SLRU segments). */
    public long freeSpaceMapRuns() {
        return freeSpaceMapRuns.get();
    }

    /** Whether no record lies between the base's state and the target: its own target, or inside an image's window. */
    private static boolean holdsStateAt(StoreRedo.Base b, Lsn target) {
        boolean image = b.redoPoint().equals(b.target()) && b.anchor().checkpointLsn().equals(b.target());
        return b.target().equals(target) || (image && !IntervalChanges.versionKey(target).isAfter(b.usableFrom()));
    }

    /** The free-space maps at the target by one run from {@code start} (shared by concurrent askers, kept for the next). */
    private Map<RelTag, Long> fsmAt(TimelineId timeline, StoreRedo.Base start, Lsn target) {
        return shared(fsms, timeline + "@" + target, () -> {
            IntervalChanges changes = interval(timeline, start.redoPoint(), target);
            Map<BlockRef, Lsn> keys = changes.versionKeys(target);
            Map<RelTag, Long> found = new HashMap<>();
            List<PageWrite> writes = new ArrayList<>();
            redo.run(timeline, start, target, new TreeSet<>(keys.keySet()), new PageSink() {
                @Override
                public void accept(BlockRef block, byte[] page) {
                    writes.add(page == null ? new PageWrite(timeline, block.rel(), block.block(),
                            IntervalChanges.versionKey(target), new byte[WalGeometry.BLCKSZ])
                            : new PageWrite(timeline, block.rel(), block.block(), keys.get(block), page));
                }

                @Override
                public boolean wantsFreeSpaceMaps() {
                    return true;
                }

                @Override
                public void acceptFreeSpaceMaps(Map<RelTag, Long> maps) {
                    found.putAll(maps);
                }
            });
            redo.store().watermarks().putRunPages(writes); // the run made every changed block at the target anyway
            freeSpaceMapRuns.incrementAndGet();
            Map<RelTag, Long> lengths = Map.copyOf(found);
            remember(timeline, target, lengths);
            return lengths;
        });
    }

    /** What {@code work} makes under {@code key}: one caller does it, concurrent ones wait for it; kept in {@code done}. */
    private static <T> T shared(Map<String, CompletableFuture<T>> done, String key, RunWork<T> work) {
        CompletableFuture<T> result;
        boolean leader = false;
        synchronized (done) {
            result = done.get(key);
            if (result == null) {
                result = new CompletableFuture<>();
                done.put(key, result);
                leader = true;
            }
        }
        if (leader) {
            try {
                result.complete(work.run());
            } catch (Throwable e) {
                synchronized (done) {
                    done.remove(key);
                }
                failed(result, e);
            }
        }
        return join(result);
    }

    /** A redo run's work. */
    @FunctionalInterface
    private interface RunWork<T> {
        T run() throws IOException;
    }

    @Override
    public long dbSize(TimelineId timeline, int dbOid, Lsn lsn) {
        return images.dbSize(timeline, dbOid, lsn);
    }

    /**
     * In an image's window, the image's file. Elsewhere, the segment as a redo run to the last record end
     * at or below the LSN leaves it: the run starts from an anchor's SLRU files (PostgreSQL's own, at its
     * checkpoint) and replays the WAL since, as PostgreSQL's recovery would. One run answers every segment
     * at that LSN; the last few LSNs' segments are kept.
     */
    @Override
    public byte[] slruSegment(TimelineId timeline, SlruKind kind, int segment, Lsn lsn) {
        return join(slruSegmentLater(timeline, kind, segment, lsn));
    }

    /**
     * As {@link #slruSegment}, with the redo run on the run executor: the caller's thread is free while
     * PostgreSQL replays (it waits only for the WAL since the base to be decoded, as {@link #pageLater}).
     */
    @Override
    public CompletableFuture<byte[]> slruSegmentLater(TimelineId timeline, SlruKind kind, int segment, Lsn lsn) {
        try {
            return CompletableFuture.completedFuture(images.slruSegment(timeline, kind, segment, lsn));
        } catch (PageUnavailableException e) {
            if (e.reason() != PageUnavailableException.Reason.NOT_MATERIALIZED) {
                throw e;
            }
        }
        StoreRedo.Base state = redo.stateAtOrBefore(timeline, lsn).orElseThrow(() -> new PageUnavailableException(
                PageUnavailableException.Reason.NOT_MATERIALIZED, "timeline " + timeline + " has no image or"
                + " materialized step at or below " + lsn));
        Lsn target = Optional.ofNullable(interval(timeline, state.redoPoint(), lsn).lastRecordEndAtOrBefore(lsn))
                .orElse(state.target());
        String path = kind.segmentPath(segment);
        return slrusAt(timeline, target).thenApply(files -> {
            byte[] content = files.get(path);
            if (content == null) {
                throw new PageUnavailableException(PageUnavailableException.Reason.NOT_FOUND,
                        "SLRU segment " + path + " does not exist at " + lsn);
            }
            return content;
        });
    }

    /** Every SLRU segment file at the target, by one redo run (shared by concurrent askers, kept for the next). */
    private CompletableFuture<Map<String, byte[]>> slrusAt(TimelineId timeline, Lsn target) {
        String key = timeline + "@" + target;
        CompletableFuture<Map<String, byte[]>> files;
        synchronized (slrus) {
            files = slrus.get(key);
            if (files != null) {
                return files;
            }
            files = new CompletableFuture<>();
            slrus.put(key, files);
        }
        CompletableFuture<Map<String, byte[]>> led = files;
        runs.execute(() -> runForSlrus(timeline, target, key, led));
        return files;
    }

    private void runForSlrus(TimelineId timeline, Lsn target, String key, CompletableFuture<Map<String, byte[]>> files) {
        try {
            StoreRedo.Base start = redo.runStartFor(timeline, target).orElseThrow(() -> new PageUnavailableException(
                    PageUnavailableException.Reason.NOT_MATERIALIZED, "no anchor of timeline " + timeline
                    + " can reach " + target));
            Map<String, byte[]> found = new HashMap<>();
            redo.run(timeline, start, target, new TreeSet<>(), new PageSink() {
                @Override
                public void accept(BlockRef block, byte[] page) {
                }

                @Override
                public boolean wantsSlrus() {
                    return true;
                }

                @Override
                public void acceptSlru(String path, byte[] content) {
                    found.put(path, content);
                }
            });
            files.complete(Map.copyOf(found));
        } catch (Throwable e) {
            synchronized (slrus) {
                slrus.remove(key);
            }
            failed(files, e);
        }
    }

    private static <T> T join(CompletableFuture<T> f) {
        try {
            return f.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new PageUnavailableException(PageUnavailableException.Reason.NOT_MATERIALIZED, "interrupted");
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            throw cause instanceof RuntimeException r ? r : new UncheckedIOException(cause instanceof IOException io
                    ? io : new IOException(cause));
        }
    }

    @Override
    public byte[] page(TimelineId timeline, RelTag rel, int block, Lsn lsn) {
        return join(pageLater(timeline, rel, block, lsn));
    }

    @Override
    public CompletableFuture<byte[]> pageLater(TimelineId timeline, RelTag rel, int block, Lsn lsn) {
        return pageLater(timeline, rel, block, lsn, lsn);
    }

    /**
     * A stored version, read on the caller's thread, when one is exact (inside an image's window, or
     * no change redo applies between the version and the LSN by the page index: one read transaction);
     * otherwise the future of a redo run on the run executor, so the caller's thread is not held while
     * PostgreSQL replays. When the page index lags behind the LSN, catching it up (LMDB writes) and the
     * rest run where {@link IndexCatchUps} runs them: the caller is a page I/O thread serving other connections.
     */
    @Override
    public CompletableFuture<byte[]> pageLater(TimelineId timeline, RelTag rel, int block, Lsn lsn, Lsn upTo) {
        return storedPageLater(timeline, rel, block, lsn, upTo).thenApply(StoredPage::page);
    }

    /**
     * As {@link #pageLater}, a stored version still encoded (decoded where it goes: a page service decodes it
     * into its socket's buffer), inside an image's window or not.
     */
    @Override
    public CompletableFuture<StoredPage> storedPageLater(TimelineId timeline, RelTag rel, int block, Lsn lsn, Lsn upTo) {
        if (images.covers(timeline, lsn)) {
            return CompletableFuture.completedFuture(images.storedPage(timeline, rel, block, lsn));
        }
        if (!redo.store().index().covers(timeline, lsn)) {
            CompletableFuture<StoredPage> past = upTo.isAfter(lsn) && rel.fork() == ForkNumber.MAIN
                    ? pastTheIndex(timeline, rel, block, lsn, upTo) : null;
            if (past != null) {
                return past;
            }
            counts.catchUp();
            return catchUps.reach(timeline, lsn).thenCompose(v -> fromVersions(timeline, rel, block, lsn, upTo));
        }
        return fromVersions(timeline, rel, block, lsn, upTo);
    }

    /**
     * A latest read of a main-fork block beyond the page index's watermark W (under writes the stored end passes it at every WAL commit,
     * and a catch-up is a durable LMDB commit behind LMDB's one writer, which every read waits for) without the index
     * at its LSN: the fork's size is the index's at W when no record in (W, target] creates, truncates or drops
     * relations (the decoded WAL since the newest base says) and the block lies below it; the rest as any read the
     * index does not show exact ({@link #byChanges}). Null (the read catches the index up) where that cannot be told:
     * the block at or past the size at W (the fork may have grown), such a record, a base newer than W.
     */
    private CompletableFuture<StoredPage> pastTheIndex(TimelineId timeline, RelTag rel, int block, Lsn lsn, Lsn upTo) {
        Optional<Lsn> watermark = redo.store().index().watermark(timeline);
        Optional<StoreRedo.Base> state = redo.stateAtOrBefore(timeline, lsn);
        if (watermark.isEmpty() || state.isEmpty() || state.get().redoPoint().isAfter(watermark.get())
                || !redo.store().index().covers(timeline, watermark.get())) {
            return null;
        }
        IntervalChanges changes = interval(timeline, state.get().redoPoint(), lsn);
        Lsn target = Optional.ofNullable(changes.lastRecordEndAtOrBefore(lsn)).orElse(state.get().target());
        if (changes.lifecycleIn(watermark.get(), target)) {
            return null;
        }
        OptionalLong nblocks = redo.store().index().nblocks(timeline, rel, watermark.get());
        if (nblocks.isEmpty() || Integer.toUnsignedLong(block) >= nblocks.getAsLong()) {
            return null; // absent at W, or past its end there: the index at the LSN tells (an error, or zeros)
        }
        return byChanges(timeline, rel, block, lsn, upTo, state.get(), changes, target);
    }

    /**
     * Outside an image's window the page index says whether the fork exists and how long it is (as Neon's
     * get_rel_page_at_lsn): a main or init fork that does not exist is an error, a block at or beyond the
     * end (or of an absent visibility map, which PostgreSQL asks about before it creates one) is zeros.
     * Free-space maps are not in the index: their pages are redo's. Then the newest stored version at or
     * below the LSN (none: the block was all zeros) when the index shows it exact there; else by redo.
     */
    private CompletableFuture<StoredPage> fromVersions(TimelineId timeline, RelTag rel, int block, Lsn lsn, Lsn upTo) {
        PageStore.VersionAt read;
        try {
            read = redo.store().pages().versionAt(redo.store().index(), timeline, rel, block, lsn,
                    IntervalChanges.versionKey(lsn));
        } catch (IndexNotReadyException e) {
            throw new PageUnavailableException(PageUnavailableException.Reason.NOT_MATERIALIZED,
                    "not materialized at " + lsn + " yet: " + e.getMessage());
        }
        if (read.nblocks() != null) {
            if (read.nblocks().isEmpty() && rel.fork() != ForkNumber.VISIBILITY_MAP) {
                throw new PageUnavailableException(PageUnavailableException.Reason.NOT_FOUND,
                        "relation " + rel.path() + " does not exist at " + lsn);
            }
            if (read.beyondTheFork(block)) {
                counts.stored();
                return CompletableFuture.completedFuture(StoredPage.zeros());
            }
        }
        if (read.exact()) {
            counts.stored();
            return CompletableFuture.completedFuture(Optional.ofNullable(read.version()).map(PageVersion::stored)
                    .orElseGet(StoredPage::zeros));
        }
        StoreRedo.Base state = redo.stateAtOrBefore(timeline, lsn).orElseThrow(() -> new PageUnavailableException(
                PageUnavailableException.Reason.NOT_MATERIALIZED, "timeline " + timeline + " has no image or"
                + " materialized step at or below " + lsn));
        IntervalChanges changes = interval(timeline, state.redoPoint(), lsn);
        Lsn target = Optional.ofNullable(changes.lastRecordEndAtOrBefore(lsn)).orElse(state.target());
        return byChanges(timeline, rel, block, lsn, upTo, state, changes, target);
    }

    /**
     * A block of a fork that exists at {@code target} (the last record end at or below {@code lsn}), by the WAL
     * decoded since the newest base {@code state} ({@code changes}): the newest stored version at or below the target
     * when the block's last change C there is not after it (none: the base's); else, for a latest read, live pages
     * (a follower) that hold C's version or a later one the read may move to; else a redo run.
     */
    private CompletableFuture<StoredPage> byChanges(TimelineId timeline, RelTag rel, int block, Lsn lsn, Lsn upTo,
                                                    StoreRedo.Base state, IntervalChanges changes, Lsn target) {
        BlockRef b = new BlockRef(rel, block);
        Lsn change = changes.lastChange(b, target);
        Optional<PageVersion> v = redo.store().pages().get(timeline, rel, block, IntervalChanges.versionKey(target));
        if (change == null) {
            // unchanged since a point where every block is exact: its version there, or it did not exist
            counts.stored();
            return CompletableFuture.completedFuture(v.map(PageVersion::stored).orElseGet(StoredPage::zeros));
        }
        if (v.isPresent() && !v.get().lsn().isBefore(IntervalChanges.versionKey(change))) {
            counts.stored();
            return CompletableFuture.completedFuture(v.get().stored());
        }
        if (upTo.isAfter(lsn) && rel.fork() == ForkNumber.MAIN) {
            // a latest read: a follower that has replayed the change may hold exactly that version, or a later one
            // that is the block's version at a later point the read may be answered at (free-space and visibility
            // maps change without stamping pd_lsn: always redo's)
            return live.page(redo.store(), timeline, b, change, pageLsn -> laterChange(timeline, state, b, target, upTo, pageLsn))
                    .thenCompose(page -> {
                        counts.liveOrRedo(page != null);
                        return page != null ? CompletableFuture.completedFuture(page)
                                : byRedo(timeline, b, target, change, lsn, upTo);
                    })
                    .thenApply(StoredPage::of);
        }
        counts.redo();
        return byRedo(timeline, b, target, change, lsn, upTo).thenApply(StoredPage::of);
    }

    /**
     * For a latest read at {@code target} (any point up to {@code upTo} answers it, as a floating run's): the block's
     * last change at the newest stored record end, when its version key is {@code pageLsn} (a live page of that
     * version is then the block as it is there) and no record in between creates, truncates or drops relations (the
     * block's size there is its size at {@code target}); else null. Decodes the stored WAL since {@code target}.
     */
    private Lsn laterChange(TimelineId timeline, StoreRedo.Base state, BlockRef b, Lsn target, Lsn upTo, Lsn pageLsn) {
        Lsn newest = Lsn.min(redo.store().wal().lastRecordEnd(timeline).orElse(target), upTo);
        if (!newest.isAfter(target)) {
            return null;
        }
        IntervalChanges changes = interval(timeline, state.redoPoint(), newest);
        Lsn at = changes.lastRecordEndAtOrBefore(newest);
        Lsn change = at == null ? null : changes.lastChange(b, at);
        if (change == null || !IntervalChanges.versionKey(change).equals(pageLsn) || changes.lifecycleIn(target, at)) {
            return null;
        }
        return change;
    }

    /**
     * The block at {@code target} by a redo run. While the compute writes, every read at the latest LSN has a target
     * of its own, and a run for each queued behind the others (seconds each under pgbench): a read first joins a
     * run already gathering or running at an earlier target when the block's last change ({@code change}) is at
     * or before that target (the block is the same at both); else, when it may be answered later than
     * its LSN ({@code upTo} after {@code lsn}), it joins the timeline's floating batch; and only else starts one.
     */
    private CompletableFuture<byte[]> byRedo(TimelineId timeline, BlockRef b, Lsn target, Lsn change, Lsn lsn, Lsn upTo) {
        long t0 = System.nanoTime();
        return joinOrStartRun(timeline, b, target, change, lsn, upTo)
                .whenComplete((page, failure) -> counts.waitedForRun(System.nanoTime() - t0));
    }

    private CompletableFuture<byte[]> joinOrStartRun(TimelineId timeline, BlockRef b, Lsn target, Lsn change, Lsn lsn,
                                                     Lsn upTo) {
        Batch newFloating = null;
        synchronized (gathering) {
            for (Batch x : inFlight) {
                if (x.answers(timeline, b, target, change)) {
                    if (x.running == null) {
                        x.blocks.add(b);
                    }
                    return pageOf(x, b);
                }
            }
            if (upTo.isAfter(lsn)) {
                Batch f = floating.get(timeline);
                if (f == null) {
                    f = Batch.floating(timeline, target, upTo);
                    floating.put(timeline, f);
                    inFlight.add(f);
                    newFloating = f;
                }
                if (f == newFloating || f.admits(target, upTo)) {
                    f.blocks.add(b);
                    if (newFloating == null) {
                        return pageOf(f, b);
                    }
                }
            }
        }
        if (newFloating != null) {
            Batch batch = newFloating;
            runs.execute(() -> leadFloating(timeline, batch));
            return pageOf(batch, b);
        }
        StoreRedo.Base start = redo.runStartFor(timeline, target).orElseThrow(() -> new PageUnavailableException(
                PageUnavailableException.Reason.NOT_MATERIALIZED, "no anchor of timeline " + timeline
                + " can reach " + target + " (targets before a promoted timeline's first checkpoint are refused)"));
        String key = timeline + "@" + target + "@" + start.redoPoint();
        Batch batch;
        boolean leader = false;
        synchronized (gathering) {
            batch = gathering.get(key);
            if (batch == null) {
                batch = new Batch(timeline, target);
                gathering.put(key, batch);
                inFlight.add(batch);
                leader = true;
            }
            batch.blocks.add(b);
        }
        if (leader) {
            Batch led = batch;
            runs.execute(() -> lead(timeline, start, target, key, led));
        }
        return pageOf(batch, b);
    }

    private static CompletableFuture<byte[]> pageOf(Batch batch, BlockRef b) {
        return batch.result.thenApply(pages -> {
            byte[] page = pages.get(b);
            return page != null ? page : new byte[WalGeometry.BLCKSZ];
        });
    }

    /** Gathers for a moment, runs, stores the pages, then answers every waiter. */
    private void lead(TimelineId timeline, StoreRedo.Base start, Lsn target, String key, Batch batch) {
        try {
            Thread.sleep(GATHER_MILLIS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        runBatch(timeline, start, target, key, batch);
    }

    /**
     * A floating batch: gathers until a read slot is free, then chooses its target (the end of the stored WAL, at
     * most its cap) and its base, and runs in that slot; reads arriving from then on start the next floating batch.
     * Its pages are stored after the slot is given back: under writes the next floating batch (the reads that came
     * while this one ran) is already waiting for the slot, and storing thousands of pages is not its business.
     */
    private void leadFloating(TimelineId timeline, Batch batch) {
        try {
            Made made = redo.inReadSlot(() -> {
                Lsn floor;
                Lsn cap;
                synchronized (gathering) {
                    floating.remove(timeline, batch);
                    floor = batch.floor;
                    cap = batch.cap;
                }
                Lsn upTo = Lsn.min(redo.store().wal().lastRecordEnd(timeline).orElse(floor), cap);
                StoreRedo.Base state = redo.stateAtOrBefore(timeline, upTo).orElseThrow(() -> new PageUnavailableException(
                        PageUnavailableException.Reason.NOT_MATERIALIZED, "timeline " + timeline + " has no image or"
                        + " materialized step at or below " + upTo));
                // both are record ends at or below upTo: the later one (floor is every member's own target)
                Lsn target = Lsn.max(floor, Optional.ofNullable(interval(timeline, state.redoPoint(), upTo)
                        .lastRecordEndAtOrBefore(upTo)).orElse(state.target()));
                StoreRedo.Base start = redo.runStartFor(timeline, target).orElseThrow(() -> new PageUnavailableException(
                        PageUnavailableException.Reason.NOT_MATERIALIZED, "no anchor of timeline " + timeline
                        + " can reach " + target));
                synchronized (gathering) {
                    batch.target = target;
                }
                return runAndAnswer(timeline, start, target, null, batch);
            });
            store(timeline, made);
        } catch (Throwable e) {
            failed(batch.result, e);
        } finally {
            synchronized (gathering) {
                floating.remove(timeline, batch);
                inFlight.remove(batch);
            }
        }
    }

    /** What a batch's run made at its target, answered and still to be stored. */
    private record Made(boolean floating, Lsn target, IntervalChanges changes, Map<BlockRef, byte[]> pages) {
    }

    /** Runs a batch gathered for {@code target}, answers every waiter, then stores the pages. */
    private void runBatch(TimelineId timeline, StoreRedo.Base start, Lsn target, String key, Batch batch) {
        try {
            store(timeline, runAndAnswer(timeline, start, target, key, batch));
        } catch (Throwable e) {
            failed(batch.result, e);
        } finally {
            synchronized (gathering) {
                if (key != null) {
                    gathering.remove(key, batch); // a failure before the run started leaves it there
                }
                inFlight.remove(batch);
            }
        }
    }

    /**
     * Runs a batch and answers every waiter with its pages. Answered before they are stored: the answers do not wait
     * for LMDB's writer (the WAL receiver's and the page indexer's commits take it too) nor for a durable commit. Until
     * the pages are stored the batch stays in flight (its caller removes it), so a read of one of them at this target
     * joins it and gets it from memory.
     */
    private Made runAndAnswer(TimelineId timeline, StoreRedo.Base start, Lsn target, String key, Batch batch)
            throws IOException {
        IntervalChanges changes = interval(timeline, start.redoPoint(), target);
        Lsn madeUpTo;
        synchronized (gathering) {
            madeUpTo = key == null ? floatingMade.get(timeline) : null;
        }
        // Every block changed since the start costs little more than one in replay, and makes every later read at
        // this LSN an LMDB read; but each is seeded, read back, verified and stored, thousands after a minute of
        // pgbench. A floating run after another makes only those changed since that one's target, from this start or
        // an older one whose WAL this start's covers: the others' versions at their last change are stored already
        // (not past a relation's creation, truncation or drop in between). Only a matter of cost: a block left out is
        // read from its stored version only where that is exact, else it is redone.
        boolean chained = madeUpTo != null && !madeUpTo.isBefore(start.redoPoint()) && !changes.lifecycleIn(madeUpTo, target);
        // While a follower replays the timeline (or starts), the first floating run makes only the blocks asked and
        // later ones those changed since it: the follower's files answer the blocks changed before (that first run made
        // every block changed since the base: 12,210 in 4-8 s at load 20, every connection waiting). Runs that all made
        // only the blocks asked cost more: later reads of changed blocks went to the follower (3,894 vs 10,383 pages/s).
        boolean followerServesTheRest = key == null && !chained && live.coming(redo.store(), timeline);
        Set<BlockRef> changed = chained ? changes.changedAfter(madeUpTo, target)
                : followerServesTheRest ? Set.of() : changes.versionKeys(target).keySet();
        SortedSet<BlockRef> wanted;
        synchronized (gathering) {
            if (key != null) {
                gathering.remove(key);
            }
            wanted = new TreeSet<>(batch.blocks);
            wanted.addAll(changed);
            batch.running = wanted; // from here a later read joins only for a block in it
        }
        Map<BlockRef, byte[]> pages = new HashMap<>();
        counts.ran(redo.run(timeline, start, target, wanted, pages::put));
        batch.result.complete(pages);
        if (key == null) {
            synchronized (gathering) {
                floatingMade.merge(timeline, target, Lsn::max);
            }
        }
        return new Made(key == null, target, changes, pages);
    }

    /**
     * Stores the versions a run made (keyed by their last change; zeros where a block does not exist at the target),
     * so that later reads at or after it are LMDB reads. A failure costs only that: the pages were answered.
     */
    private void store(TimelineId timeline, Made made) {
        Lsn target = made.target();
        IntervalChanges changes = made.changes();
        Map<BlockRef, byte[]> pages = made.pages();
        List<PageWrite> writes = new ArrayList<>();
        pages.forEach((block, page) -> {
            Lsn change = changes.lastChange(block, target);
            if (page == null) {
                writes.add(new PageWrite(timeline, block.rel(), block.block(), IntervalChanges.versionKey(target),
                        new byte[WalGeometry.BLCKSZ]));
            } else if (change != null) {
                writes.add(new PageWrite(timeline, block.rel(), block.block(), IntervalChanges.versionKey(change), page));
            } // unchanged since the start: its starting version is already stored
        });
        long t0 = System.nanoTime();
        try {
            redo.store().watermarks().putRunPages(writes);
            counts.runStored(System.nanoTime() - t0);
        } catch (RuntimeException e) {
            if (made.floating()) {
                synchronized (gathering) {
                    floatingMade.remove(timeline); // the next floating run makes every changed block again
                }
            }
            LOG.log(Level.WARNING, "storing the " + writes.size() + " pages a redo run made at " + target + " of timeline "
                    + timeline + " failed; later reads there run again", e);
        }
    }

    /**
     * Every reader of a run's result hears of a failure, whatever it is: an Error too, as a waiter that never hears
     * waits forever (a page-service request stays unanswered, and every one behind it on its connection).
     */
    private static void failed(CompletableFuture<?> result, Throwable e) {
        result.completeExceptionally(e);
        if (e instanceof Error error) {
            throw error;
        }
    }

    /** The WAL since a base, decoded up to {@code upTo} (kept for the bases asked about most recently). */
    private IntervalChanges interval(TimelineId timeline, Lsn from, Lsn upTo) {
        IntervalChanges changes;
        synchronized (intervals) {
            changes = intervals.computeIfAbsent(timeline + "@" + from, k -> new IntervalChanges(timeline, from));
        }
        if (changes.reaches(upTo)) {
            return changes; // every latest read after the first since the last WAL commit: no LMDB read, no lock
        }
        Lsn stored = redo.store().wal().lastRecordEnd(timeline).orElse(from);
        long t0 = System.nanoTime();
        changes.extendTo(redo.store().wal(), Lsn.min(upTo, stored));
        counts.decoded(System.nanoTime() - t0);
        return changes;
    }
}
