package dev.zenith.server.redo;

import dev.zenith.pgexec.PgInstallation;
import dev.zenith.storage.Store;
import dev.zenith.storage.index.IndexCatchUps;
import dev.zenith.storage.page.IndexedPageSource;
import dev.zenith.storage.page.PageSource;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.wal.Lsn;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.WeakHashMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The daemon's redo: one scratch area (cleared at start: runs a killed daemon left are redone), at
 * most {@code readConcurrency} sparse redo runs for reads and {@code concurrency} for background steps at
 * once ({@link RunSlots}: a read never waits behind a step), a GetPage source per store, and background materialization of timelines with a running
 * primary, asked for after each anchor is stored. Steps run on a thread of their own, one at a time
 * per timeline, off the management lock and every event loop.
 */
public final class RedoService implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(RedoService.class.getName());

    private final SparseRedo redo;
    private final RunSlots slots;
    private final Map<Store, StoreRedo> stores = Collections.synchronizedMap(new WeakHashMap<>());
    private final Map<Store, PageSource> pageSources = Collections.synchronizedMap(new WeakHashMap<>());
    /** Timelines with a step queued or running (the key is the store's directory and the timeline). */
    private final Set<String> queued = ConcurrentHashMap.newKeySet();
    private final ExecutorService steps;
    /** GetPage's and GetSlruSegment's redo runs: gathered and waited for here, never on a page I/O thread. */
    private final ExecutorService getPageRuns;
    /**
     * Page index catch-ups for reads past its watermark, every store's, one at a time (LMDB writes behind the
     * indexer's lock): a thread of its own, so reads that need no redo run never queue behind one.
     */
    private final ExecutorService indexCatchUps;
    /** Finished runs' directories removed (their postmasters' exits waited for) after their pages were answered. */
    private final ExecutorService removals;
    /** Told after each background step commits (the ready data directories). */
    private volatile StepListener afterStep = StepListener.NONE;
    /** The step under way per timeline: a start may wait for it ({@link #underWay}). */
    private final StepsUnderWay underWay = new StepsUnderWay();
    /**
     * The threads running a step, per store: a store closing (its storage detached) waits for them, since a step's
     * commit after the close crashes LMDB (the JVM with it). Guarded by itself.
     */
    private final Map<Store, Set<Thread>> stepping = new HashMap<>();
    /** Stores closing or closed: no step starts on them. Guarded by {@link #stepping}. */
    private final Set<Store> closing = Collections.newSetFromMap(new WeakHashMap<>());
    /** Asked before a redo run for a latest read (the follower standbys); set before the first page source. */
    private volatile LivePages live = LivePages.NONE;

    private RedoService(SparseRedo redo, int concurrency, int readConcurrency) {
        this.redo = redo;
        this.slots = new RunSlots(readConcurrency, concurrency);
        this.steps = Executors.newFixedThreadPool(concurrency, r -> {
            Thread t = new Thread(r, "zenith-materialize-steps");
            t.setDaemon(true);
            return t;
        });
        this.indexCatchUps = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "zenith-index-catchup");
            t.setDaemon(true);
            return t;
        });
        this.removals = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "zenith-redo-cleanup");
            t.setDaemon(true);
            return t;
        });
        // As many as runs may wait for slots and gather at once; more queue (and gather more blocks meanwhile).
        this.getPageRuns = Executors.newFixedThreadPool(Math.max(2, 2 * readConcurrency), r -> {
            Thread t = new Thread(r, "zenith-getpage-redo");
            t.setDaemon(true);
            return t;
        });
    }

    /**
     * Opens the scratch area (removing what killed runs left). Blocking. {@code concurrency}: background steps'
     * runs at once; {@code readConcurrency}: reads' runs at once, besides those.
     */
    public static RedoService open(PgInstallation pg, Path scratchDir, RedoSettings settings, int concurrency,
                                   int readConcurrency) throws IOException {
        ScratchArea area = ScratchArea.open(scratchDir, pg);
        RedoService service = new RedoService(new SparseRedo(pg, area, settings), concurrency, readConcurrency);
        area.removeFinishedOn(service.removals);
        return service;
    }

    /** Who is told after each background materialization step commits. */
    public void afterEachStep(StepListener listener) {
        this.afterStep = listener;
    }

    /** What latest reads try before a redo run (called once, at start, before any page source is made). */
    public void tryLiveFirst(LivePages live) {
        this.live = live;
    }

    public StoreRedo of(Store store) {
        return stores.computeIfAbsent(store, s -> new StoreRedo(s, redo, slots));
    }

    /** What the page service answers from for this store. */
    public PageSource pageSource(Store store) {
        return pageSources.computeIfAbsent(store, s -> {
            IndexCatchUps catchUps = new IndexCatchUps(s.index().indexer(), indexCatchUps);
            return new IndexedPageSource(s.index(), new RedoPageSource(of(s), getPageRuns, live, catchUps), catchUps);
        });
    }

    /** The background steps under way: whether a data directory's start waits for one. */
    public StepsUnderWay underWay() {
        return underWay;
    }

    /** Queues background materialization of the timeline up to its newest anchor (no-op if already queued). */
    public void materializeSoon(Store store, TimelineId timeline) {
        String key = store.directory() + "|" + timeline;
        if (!queued.add(key)) {
            return;
        }
        steps.execute(() -> {
            queued.remove(key); // an anchor stored from now on queues another pass
            if (!stepStarts(store)) {
                return;
            }
            StepListener after = afterStep;
            Materializer m = new Materializer(of(store), new StepListener() {
                @Override
                public void stepStarting(Store s, TimelineId t, Lsn from, Lsn to) {
                    underWay.stepStarting(s, t, from, to);
                }

                @Override
                public void stepReplayed(Store s, TimelineId t, long walBytes, Duration replay) {
                    underWay.stepReplayed(s, t, walBytes, replay);
                }

                @Override
                public void stepCommitted(Store s, TimelineId t) {
                    underWay.stepCommitted(s, t);
                    after.stepCommitted(s, t);
                }
            });
            try {
                for (var s = m.step(timeline); s.isPresent(); s = m.step(timeline)) {
                    LOG.info("timeline " + timeline + " materialized up to " + s.get().step().target() + " ("
                            + s.get().pages() + " pages), the step of the anchor at redo point " + s.get().step().redoPoint());
                }
            } catch (IOException | RuntimeException e) {
                LOG.log(Level.WARNING, "background materialization of timeline " + timeline + " stopped", e);
            } finally {
                underWay.stepEnded(store, timeline); // a step that threw: starts no longer wait for it
                stepEnded(store);
            }
        });
    }

    /** The calling thread steps on {@code store}, unless it is closing. */
    private boolean stepStarts(Store store) {
        synchronized (stepping) {
            if (closing.contains(store)) {
                return false;
            }
            stepping.computeIfAbsent(store, k -> new HashSet<>()).add(Thread.currentThread());
            return true;
        }
    }

    private void stepEnded(Store store) {
        synchronized (stepping) {
            Set<Thread> threads = stepping.get(store);
            if (threads != null && threads.remove(Thread.currentThread()) && threads.isEmpty()) {
                stepping.remove(store);
            }
            stepping.notifyAll();
        }
    }

    /**
     * Before {@code store} closes (its storage detached): no step starts on it any more, and the steps running on it
     * are interrupted (an interrupted step stores nothing: its transactions abort) and waited for. Blocking.
     */
    public void storeClosing(Store store) {
        synchronized (stepping) {
            closing.add(store);
            stepping.getOrDefault(store, Set.of()).forEach(Thread::interrupt);
            while (stepping.containsKey(store)) {
                try {
                    stepping.wait();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return;
                }
            }
        }
    }

    @Override
    public void close() {
        getPageRuns.shutdownNow();
        indexCatchUps.shutdownNow();
        steps.shutdownNow();
        // An interrupted run still stops its PostgreSQL and removes its scratch directory: wait for that (a busy
        // machine takes seconds), so nothing writes under the daemon's home once it has stopped.
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        try {
            steps.awaitTermination(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
            getPageRuns.awaitTermination(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
            removals.shutdown(); // after the runs: each hands its removal here, which must still run
            removals.awaitTermination(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
