package dev.zenith.server.ready;

import dev.zenith.pgexec.FileTrees;
import dev.zenith.server.anchor.AnchoredStart;
import dev.zenith.server.redo.StepListener;
import dev.zenith.storage.Store;
import dev.zenith.storage.image.ImageManifest;
import dev.zenith.storage.image.MaterializeStats;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.wal.Lsn;

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
 * own; a new one is written whole at the next step, or 30 s after the take. Updates run on one thread of their own, queued once per timeline however
 * many steps commit meanwhile. Not kept for s3 storages (their cache is bounded; this would double it).
 */
public final class ReadyDirectories implements StepListener, AutoCloseable {
    private static final Logger LOG = Logger.getLogger(ReadyDirectories.class.getName());
    /** Under the storage's directory. */
    public static final String DIRECTORY = Store.READY_DIRECTORIES;
    static final String DATA = "data";

    private final boolean enabled;
    /** How long after a take the next ready directory is written, unless a step comes first. */
    private static final long AFTER_TAKE_SECONDS = 30;

    private final ScheduledExecutorService worker;
    private final Set<String> queued = ConcurrentHashMap.newKeySet();
    /** Stores being detached (or gone): their queued updates are dropped. Guarded by this. */
    private final Set<Store> forgotten = Collections.newSetFromMap(new WeakHashMap<>());
    /** The store the update under way reads, or null. Guarded by this. */
    private Store updating;
    /** One per ready directory: an update and a take never overlap. */
    private final Map<String, Object> locks = new ConcurrentHashMap<>();

    public ReadyDirectories(boolean enabled) {
        this.enabled = enabled;
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

    /** An update of the timeline's ready directory after {@code delaySeconds}, unless one is queued already. */
    private void queue(Store store, TimelineId timeline, long delaySeconds) {
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
                update(store, timeline);
            } catch (IOException | RuntimeException e) {
                LOG.log(Level.WARNING, "the ready data directory of timeline " + timeline + " was not updated"
                        + " (the next step writes it whole)", e);
            } finally {
                end();
            }
        }, delaySeconds, TimeUnit.SECONDS);
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
        removeGone(store);
        Optional<Lsn> end = store.wal().lastRecordEnd(timeline);
        Optional<ImageManifest> image = end.flatMap(e -> store.images().imageFor(timeline, e));
        if (image.isEmpty()) {
            return;
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
                return;
            }
            AnchoredStart.Plan plan = choice.plan().get();
            String digest = PlanDigest.of(plan);
            Optional<ReadyMarker> marker = ReadyMarker.read(root);
            Path data = root.resolve(DATA);
            if (marker.isPresent() && marker.get().digest().equals(digest) && Files.isDirectory(data)) {
                return;
            }
            ImageManifest smallFiles = plan.directory().smallFiles();
            boolean incremental = marker.isPresent() && Files.isDirectory(data)
                    && marker.get().timeline().equals(timeline) && marker.get().imageLsn().equals(smallFiles.lsn())
                    && plan.directory().versionsAt().isAfter(marker.get().versionsAt())
                    // GC may have trimmed the block changes below its horizon: they can no longer say what changed
                    && store.images().retentionHorizon(timeline).map(h -> !h.isAfter(marker.get().versionsAt())).orElse(true);
            long started = System.nanoTime();
            ReadyMarker.remove(root); // from here until the new marker, a crash leaves a directory never used
            String what;
            if (incremental) {
                DirectoryUpdate.Stats s = DirectoryUpdate.apply(store, timeline, plan.directory(),
                        marker.get().versionsAt(), data);
                what = "updated from " + marker.get().versionsAt() + ": " + s.blocksWritten() + " blocks in "
                        + s.forksWritten() + " forks written, " + s.removed() + " paths removed (the changed blocks"
                        + " from the index " + s.indexMillis() + " ms, the forks' blocks " + s.blocksMillis() + " ms)";
            } else {
                FileTrees.delete(root);
                Files.createDirectories(root);
                MaterializeStats s = store.images().materialize(timeline, plan.directory(), data, bytes -> { });
                what = "written whole: " + s.pages() + " pages in " + s.relationForks() + " forks";
            }
            new ReadyMarker(digest, timeline, smallFiles.lsn(), plan.directory().versionsAt()).write(root);
            LOG.info("ready data directory of timeline " + timeline + " at the anchor " + plan.checkpoint() + " "
                    + what + " in " + TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started) + " ms");
        }
    }

    /**
     * Renames the ready directory of {@code plan}'s anchor to {@code target} (absent) when it is the directory the
     * plan writes. False when there is none, it is of another anchor or incomplete, or the rename cannot be done
     * in one step (another file system): the caller writes its own.
     */
    public boolean take(Store store, AnchoredStart.Plan plan, Path target) throws IOException {
        if (!enabled) {
            return false;
        }
        Path root = root(store, plan.timeline());
        long asked = System.nanoTime();
        synchronized (lock(root)) {
            long waited = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - asked);
            if (waited >= 10) { // an update under way: a start right after a step commits waits for it
                LOG.info("a start waited " + waited + " ms for the update of the ready data directory of timeline "
                        + plan.timeline());
            }
            Optional<ReadyMarker> marker = ReadyMarker.read(root);
            Path data = root.resolve(DATA);
            if (marker.isEmpty() || !Files.isDirectory(data) || !marker.get().digest().equals(PlanDigest.of(plan))) {
                return false;
            }
            try {
                Files.move(data, target, StandardCopyOption.ATOMIC_MOVE);
            } catch (IOException e) {
                LOG.info("the ready data directory " + data + " cannot be renamed to " + target + " (" + e
                        + "): writing one");
                return false;
            }
            ReadyMarker.remove(root); // a crash before this: the marker names a directory that is gone, never used
            // the next one is written whole once the start that took this one has had the machine for a while
            queue(store, plan.timeline(), AFTER_TAKE_SECONDS);
            return true;
        }
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
