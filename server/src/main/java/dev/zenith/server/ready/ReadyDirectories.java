package dev.zenith.server.ready;

import dev.zenith.pgexec.FileTrees;
import dev.zenith.server.anchor.AnchoredStart;
import dev.zenith.server.redo.StepListener;
import dev.zenith.storage.Store;
import dev.zenith.storage.image.ImageManifest;
import dev.zenith.storage.image.VersionedDirectory;
import dev.zenith.storage.image.MaterializeStats;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.segment.WalGeometry;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.WeakHashMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;
import java.util.stream.Stream;

/**
 * A ready data directory per materialized timeline (README, "Ready data directories"): what a start from the
 * timeline's newest materialized anchor writes ({@link AnchoredStart}), kept under the storage's directory
 * ({@code ready/TIMELINE/data}, with its {@link ReadyMarker}) and brought forward after materialization steps
 * commit: written whole the first time (or when the image or anchor's timeline changed), then only what changed
 * ({@link DirectoryUpdate}). A start whose plan is that anchor's renames it into place instead of writing its
 * own; a start at another anchor of that timeline and image renames it too and brings it to its own anchor, when
 * few enough blocks changed in between. Writing one whole waits until 30 s after the latest start of a pg (its
 * first queries have the machine; at most 2 minutes of such waits), so a new one is written whole 30 s after a
 * take, or a new branch's own after its first step. Updates run on one thread of their own, queued once per
 * timeline however many steps commit meanwhile. Not kept for s3 storages (their cache is bounded; this would
 * double it).
 */
public final class ReadyDirectories implements StepListener, AutoCloseable {
    private static final Logger LOG = Logger.getLogger(ReadyDirectories.class.getName());
    /** Under the storage's directory. */
    public static final String DIRECTORY = Store.READY_DIRECTORIES;
    static final String DATA = "data";
    /** How a start says it took the ready directory (the log line of its rebuild). */
    public static final String TAKEN = "its ready directory renamed into place";

    private final boolean enabled;
    /** How long after a pg's start (its data directory there) no ready directory is written whole. */
    private static final long QUIET_AFTER_START_NANOS = TimeUnit.SECONDS.toNanos(30);
    /** A whole write put off by starts that keep coming is done this long after it was first put off. */
    private static final long LONGEST_PUT_OFF_NANOS = TimeUnit.MINUTES.toNanos(2);
    /**
     * A start at another anchor takes the ready directory when at most this share of the directory's pages changed
     * in between: scattered block writes cost a few times a whole write's sequential ones.
     */
    private static final double TAKE_AT_MOST_CHANGED = 1.0 / 3;

    private final double takeAtMostChanged;
    /** When the latest start of a pg had its data directory (System.nanoTime), or null. */
    private volatile Long lastStart;
    /** Per queued key, when its whole write was first put off for a start. */
    private final Map<String, Long> putOffSince = new ConcurrentHashMap<>();

    private final ScheduledExecutorService worker;
    private final Set<String> queued = ConcurrentHashMap.newKeySet();
    /** Stores being detached (or gone): their queued updates are dropped. Guarded by this. */
    private final Set<Store> forgotten = Collections.newSetFromMap(new WeakHashMap<>());
    /** The store the update under way reads, or null. Guarded by this. */
    private Store updating;
    /** One per ready directory: an update and a take never overlap. */
    private final Map<String, Object> locks = new ConcurrentHashMap<>();

    public ReadyDirectories(boolean enabled) {
        this(enabled, TAKE_AT_MOST_CHANGED);
    }

    /** {@code takeAtMostChanged}: see {@link #TAKE_AT_MOST_CHANGED} (a test takes at any share). */
    ReadyDirectories(boolean enabled, double takeAtMostChanged) {
        this.enabled = enabled;
        this.takeAtMostChanged = takeAtMostChanged;
        this.worker = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "zenith-ready-dirs");
            t.setDaemon(true);
            return t;
        });
    }

    @Override
    public void stepCommitted(Store store, TimelineId timeline) {
        queue(store, timeline, 0);
    }

    /**
     * A pg's start has its data directory (taken or written): for the next 30 s its first queries have the machine,
     * and no ready directory is written whole.
     */
    public void started() {
        lastStart = System.nanoTime();
    }

    /** An update of the timeline's ready directory after {@code delayNanos}, unless one is queued already. */
    private void queue(Store store, TimelineId timeline, long delayNanos) {
        if (!enabled || store.cacheRoom().bound() > 0) {
            return;
        }
        String key = key(store, timeline);
        if (!queued.add(key)) {
            return; // the queued update will see this step too
        }
        worker.schedule(() -> {
            queued.remove(key);
            if (!begin(store)) {
                return;
            }
            try {
                long quiet = quietLeft(key);
                if (update(store, timeline, quiet == 0)) {
                    putOffSince.remove(key);
                } else {
                    putOffSince.putIfAbsent(key, System.nanoTime());
                    LOG.info("the ready data directory of timeline " + timeline + " is written whole in "
                            + TimeUnit.NANOSECONDS.toMillis(quiet) + " ms: a pg's start has the machine until then");
                    queue(store, timeline, quiet);
                }
            } catch (IOException | RuntimeException e) {
                putOffSince.remove(key);
                LOG.log(Level.WARNING, "the ready data directory of timeline " + timeline + " was not updated"
                        + " (the next step writes it whole)", e);
            } finally {
                end();
            }
        }, delayNanos, TimeUnit.NANOSECONDS);
    }

    /** How long a whole write of {@code key}'s directory waits still for the latest start: 0 when it may go. */
    private long quietLeft(String key) {
        Long started = lastStart;
        long now = System.nanoTime();
        if (started == null || now - started >= QUIET_AFTER_START_NANOS) {
            return 0;
        }
        Long since = putOffSince.get(key);
        if (since != null && now - since >= LONGEST_PUT_OFF_NANOS) {
            return 0;
        }
        return QUIET_AFTER_START_NANOS - (now - started);
    }

    private synchronized boolean begin(Store store) {
        if (forgotten.contains(store)) {
            return false;
        }
        updating = store;
        return true;
    }

    private synchronized void end() {
        updating = null;
        notifyAll();
    }

    /**
     * Before {@code store} closes (a detach): its queued updates are dropped and the one under way, which reads it,
     * ends first (an update is not cut short: a whole directory at scale 50 takes ~17 s). Blocking.
     */
    public synchronized void forget(Store store) {
        forgotten.add(store);
        boolean interrupted = false;
        while (updating == store) {
            try {
                wait();
            } catch (InterruptedException e) {
                interrupted = true; // the store must not close under the update: wait on
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    /** Brings the timeline's ready directory to its newest materialized anchor. Blocking. */
    public void update(Store store, TimelineId timeline) throws IOException {
        update(store, timeline, true);
    }

    /** {@link #update}; false when it would have to be written whole and {@code mayWriteWhole} is not (nothing done). */
    private boolean update(Store store, TimelineId timeline, boolean mayWriteWhole) throws IOException {
        removeGone(store);
        Optional<Lsn> end = store.wal().lastRecordEnd(timeline);
        Optional<ImageManifest> image = end.flatMap(e -> store.images().imageFor(timeline, e));
        if (image.isEmpty()) {
            return true;
        }
        AnchoredStart.Choice choice = AnchoredStart.choose(store, timeline, image.get(), end.get());
        Path root = root(store, timeline);
        synchronized (lock(root)) {
            if (choice.plan().isEmpty() || !choice.plan().get().timeline().equals(timeline)) {
                // a start here takes the image (or an ancestor's anchor): nothing of ours to keep
                if (Files.exists(root)) {
                    ReadyMarker.remove(root);
                    FileTrees.delete(root);
                    LOG.info("removed the ready data directory of timeline " + timeline + ": " + choice.why());
                }
                return true;
            }
            AnchoredStart.Plan plan = choice.plan().get();
            String digest = PlanDigest.of(plan);
            Optional<ReadyMarker> marker = ReadyMarker.read(root);
            Path data = root.resolve(DATA);
            if (marker.isPresent() && marker.get().digest().equals(digest) && Files.isDirectory(data)) {
                return true;
            }
            ImageManifest smallFiles = plan.directory().smallFiles();
            boolean incremental = marker.isPresent() && Files.isDirectory(data)
                    && plan.directory().versionsAt().isAfter(marker.get().versionsAt())
                    && bringable(store, marker.get(), timeline, plan.directory());
            if (!incremental && !mayWriteWhole) {
                return false;
            }
            long started = System.nanoTime();
            ReadyMarker.remove(root); // from here until the new marker, a crash leaves a directory never used
            String what;
            if (incremental) {
                DirectoryUpdate.Stats s = DirectoryUpdate.apply(store, timeline, plan.directory(),
                        marker.get().versionsAt(), data);
                what = "updated from " + marker.get().versionsAt() + ": " + s.written();
            } else {
                FileTrees.delete(root);
                Files.createDirectories(root);
                MaterializeStats s = store.images().materialize(timeline, plan.directory(), data, bytes -> { });
                what = "written whole: " + s.pages() + " pages in " + s.relationForks() + " forks";
            }
            new ReadyMarker(digest, timeline, smallFiles.lsn(), plan.directory().versionsAt()).write(root);
            LOG.info("ready data directory of timeline " + timeline + " at the anchor " + plan.checkpoint() + " "
                    + what + " in " + TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started) + " ms");
            return true;
        }
    }

    /**
     * Renames the ready directory of {@code plan}'s anchor's timeline to {@code target} (absent) when it is the
     * directory the plan writes, or one of another anchor of that timeline with the same image, from which at most
     * a third of the directory's pages changed to the plan's anchor (a branch at an older snapshot): then those
     * blocks are written again at the plan's versions ({@link DirectoryUpdate}), in {@code target}. Says what it
     * did; empty when there is none, it is incomplete, too far, or the rename cannot be done in one step (another
     * file system): the caller writes its own.
     */
    public Optional<String> take(Store store, AnchoredStart.Plan plan, Path target) throws IOException {
        if (!enabled) {
            return Optional.empty();
        }
        Path root = root(store, plan.timeline());
        long asked = System.nanoTime();
        Optional<DirectoryUpdate.Changes> changes;
        Lsn from;
        synchronized (lock(root)) {
            long waited = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - asked);
            if (waited >= 10) { // an update under way: a start right after a step commits waits for it
                LOG.info("a start waited " + waited + " ms for the update of the ready data directory of timeline "
                        + plan.timeline());
            }
            Optional<ReadyMarker> marker = ReadyMarker.read(root);
            Path data = root.resolve(DATA);
            if (marker.isEmpty() || !Files.isDirectory(data)) {
                return Optional.empty();
            }
            from = marker.get().versionsAt();
            boolean same = marker.get().digest().equals(PlanDigest.of(plan));
            changes = same ? Optional.empty() : changesToAnotherAnchor(store, plan, marker.get());
            if (!same && changes.isEmpty()) {
                return Optional.empty();
            }
            try {
                Files.move(data, target, StandardCopyOption.ATOMIC_MOVE);
            } catch (IOException e) {
                LOG.info("the ready data directory " + data + " cannot be renamed to " + target + " (" + e
                        + "): writing one");
                return Optional.empty();
            }
            ReadyMarker.remove(root); // a crash before this: the marker names a directory that is gone, never used
            // the next one is written whole once the start that took this one has had the machine for a while
            queue(store, plan.timeline(), QUIET_AFTER_START_NANOS);
        }
        if (changes.isEmpty()) {
            return Optional.of(TAKEN + ", nothing written");
        }
        try { // no longer the ready directory: the lock is not needed
            DirectoryUpdate.Stats s = DirectoryUpdate.apply(store, plan.timeline(), plan.directory(), changes.get(), target);
            return Optional.of(TAKEN + " and brought from the versions at " + from + " to those at "
                    + plan.directory().versionsAt() + ": " + s.written());
        } catch (IOException | RuntimeException e) {
            LOG.log(Level.WARNING, "the ready data directory taken into " + target + " could not be brought to the"
                    + " anchor at " + plan.checkpoint() + ": writing one", e);
            FileTrees.delete(target);
            return Optional.empty();
        }
    }

    /**
     * The blocks changed between the ready directory's versions and {@code plan}'s, when it may be brought there: the
     * same timeline and image, the index still holding the changes in between (GC's horizon below both), and at most
     * {@link #takeAtMostChanged} of the plan's pages among them.
     */
    private Optional<DirectoryUpdate.Changes> changesToAnotherAnchor(Store store, AnchoredStart.Plan plan,
                                                                     ReadyMarker marker) {
        VersionedDirectory d = plan.directory();
        if (marker.versionsAt().equals(d.versionsAt()) || !bringable(store, marker, plan.timeline(), d)) {
            return Optional.empty();
        }
        DirectoryUpdate.Changes changes = DirectoryUpdate.between(store, plan.timeline(), marker.versionsAt(), d);
        long pages = d.pageBytes() / WalGeometry.BLCKSZ;
        if (changes.blocks().size() > takeAtMostChanged * pages) {
            LOG.info("the ready data directory of timeline " + plan.timeline() + " is not taken by a start at the anchor "
                    + plan.checkpoint() + ": " + changes.blocks().size() + " of its " + pages + " pages changed in between");
            return Optional.empty();
        }
        return Optional.of(changes);
    }

    /**
     * Whether the directory {@code marker} describes can be brought to {@code d}'s versions by writing only the blocks
     * changed in between ({@link DirectoryUpdate}), forward or back: the same timeline and image, and GC's horizon not
     * above the older of the two (below it the block changes may be trimmed: they could no longer say what changed).
     */
    private static boolean bringable(Store store, ReadyMarker marker, TimelineId timeline, VersionedDirectory d) {
        Lsn older = Lsn.min(marker.versionsAt(), d.versionsAt());
        return marker.timeline().equals(timeline) && marker.imageLsn().equals(d.smallFiles().lsn())
                && store.images().retentionHorizon(timeline).map(h -> !h.isAfter(older)).orElse(true);
    }

    /** Ready directories of timelines the store no longer has (dropped by GC or a destroy). */
    private void removeGone(Store store) throws IOException {
        Path dir = store.directory().resolve(DIRECTORY);
        if (!Files.isDirectory(dir)) {
            return;
        }
        List<Path> roots;
        try (Stream<Path> s = Files.list(dir)) {
            roots = s.toList();
        }
        for (Path root : roots) {
            boolean gone;
            try {
                gone = store.timelines().get(TimelineId.parse(root.getFileName().toString())).isEmpty();
            } catch (IllegalArgumentException e) {
                gone = true;
            }
            if (gone) {
                synchronized (lock(root)) {
                    FileTrees.delete(root);
                }
                locks.remove(root.toString());
            }
        }
    }

    static Path root(Store store, TimelineId timeline) {
        return root(store.directory(), timeline);
    }

    static Path root(Path storeDirectory, TimelineId timeline) {
        return storeDirectory.resolve(DIRECTORY).resolve(timeline.toString());
    }

    private Object lock(Path root) {
        return locks.computeIfAbsent(root.toString(), k -> new Object());
    }

    private static String key(Store store, TimelineId timeline) {
        return store.directory() + "|" + timeline;
    }

    /** Stops updating; an update under way ends first (it reads the store, which closes after this). */
    @Override
    public void close() {
        worker.shutdownNow();
        try {
            if (!worker.awaitTermination(2, TimeUnit.MINUTES)) {
                LOG.warning("a ready data directory update did not end in 2 minutes");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
