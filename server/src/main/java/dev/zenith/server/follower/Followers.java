package dev.zenith.server.follower;

import dev.zenith.pgexec.PgInstallation;
import dev.zenith.server.redo.IntervalChanges;
import dev.zenith.server.redo.LivePages;
import dev.zenith.storage.Store;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.storage.wal.BlockRef;
import dev.zenith.wal.Lsn;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;
import java.util.logging.Level;
import java.util.logging.Logger;
import java.util.stream.Stream;

/**
 * The follower standbys (README, "Followers"): one per timeline whose latest pages are asked for while its primary
 * writes, started at the first such read that would need a redo run (that read, and those until it replays, run
 * redo as before), stopped when no read asked for a while (its primary stopped, the timeline ended, the storage was
 * detached: nothing asks any more), when it died (the next read starts another, after a pause) and when the daemon
 * stops. A latest read of a block whose last change is record X gets the follower's file block when its pd_lsn is
 * X's, its checksum verifies and a second read is equal ({@link FollowerFiles}); when its pd_lsn is newer, and the
 * read's source says that later change is the block's last at a point the read may move to (a latest read: the
 * newest stored record end), it gets that version; else (older, or newer and not that) it is read again every
 * {@link #POLL_MILLIS} ms for up to {@code wait_ms}, then the read runs redo (and reads of that block run it at once
 * for a while: {@link #IN_VAIN_NANOS}). Starts and stops run
 * on {@code zenith-followers}, waits on {@code zenith-follower-wait}; a read's first attempt is the caller's
 * (a page I/O thread: two preads).
 */
public final class Followers implements LivePages, AutoCloseable {
    private static final Logger LOG = Logger.getLogger(Followers.class.getName());
    static final long POLL_MILLIS = 2;
    /** After a follower failed to start or died, reads run redo for this long before another is started. */
    private static final long RETRY_NANOS = TimeUnit.SECONDS.toNanos(Long.getLong("zenith.followerRetrySeconds", 60));
    private static final long SWEEP_SECONDS = 10;
    /**
     * A block a read waited for in vain is not waited for again for this long: one replay keeps in its buffers (a
     * block pgbench changes in every transaction: a teller, a branch, an index root) reaches the file only when
     * evicted, and each such wait only delayed the redo run the read took after it.
     */
    private static final long IN_VAIN_NANOS = TimeUnit.SECONDS.toNanos(10);
    private static final int IN_VAIN_KEPT = 4096;

    /** Told of every page a follower answered (the exactness test compares each with a redo run's). */
    public interface Served {
        void served(TimelineId timeline, BlockRef block, Lsn change, byte[] page);
    }

    /** Counts since the start: answers, and why other reads ran redo. */
    public record Stats(long answered, long answeredAfterWaiting, long answeredLater, long notRunning, long behind,
                        long ahead, long unchecked, long notWaited, long started, long failedStarts) {
    }

    private final PgInstallation pg;
    private final Path dir;
    private final FollowerSettings settings;
    private final DirectoryBuilder builder;
    /** The primary_conninfo of a timeline's follower (our replication port, with the password). */
    private final Function<TimelineId, String> conninfo;
    private final Map<String, Entry> entries = new ConcurrentHashMap<>();
    private final ExecutorService starts;
    private final ScheduledExecutorService waits;
    private final AtomicInteger names = new AtomicInteger();
    private volatile boolean closed;
    private volatile Served served = (t, b, c, p) -> { };
    /** The counts the last log line gave (the sweep logs them when they changed). */
    private Stats lastLogged = new Stats(0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
    private final AtomicLong answered = new AtomicLong();
    private final AtomicLong answeredAfterWaiting = new AtomicLong();
    private final AtomicLong answeredLater = new AtomicLong();
    private final AtomicLong notRunning = new AtomicLong();
    private final AtomicLong behind = new AtomicLong();
    private final AtomicLong ahead = new AtomicLong();
    private final AtomicLong unchecked = new AtomicLong();
    private final AtomicLong notWaited = new AtomicLong();
    private final AtomicLong started = new AtomicLong();
    private final AtomicLong failedStarts = new AtomicLong();

    /** One timeline's follower, its start under way, or the pause after a failure. */
    private static final class Entry {
        final Store store;
        final TimelineId timeline;
        volatile Follower follower;
        volatile boolean starting;
        volatile long retryAfter;
        volatile long lastAsked = System.nanoTime();
        /** Blocks a read waited for in vain, and when. */
        final Map<BlockRef, Long> waitedInVain = new ConcurrentHashMap<>();

        Entry(Store store, TimelineId timeline) {
            this.store = store;
            this.timeline = timeline;
        }
    }

    /**
     * {@code dir}: where followers' directories go (emptied now: a killed daemon's followers are stopped and removed).
     * Blocking.
     */
    public Followers(PgInstallation pg, Path dir, FollowerSettings settings, DirectoryBuilder builder,
                     Function<TimelineId, String> conninfo) throws IOException {
        this.pg = pg;
        this.dir = dir;
        this.settings = settings;
        this.builder = builder;
        this.conninfo = conninfo;
        removeLeftovers();
        this.starts = Executors.newSingleThreadExecutor(r -> thread(r, "zenith-followers"));
        this.waits = Executors.newSingleThreadScheduledExecutor(r -> thread(r, "zenith-follower-wait"));
        waits.scheduleWithFixedDelay(this::sweep, SWEEP_SECONDS, SWEEP_SECONDS, TimeUnit.SECONDS);
    }

    private static Thread thread(Runnable r, String name) {
        Thread t = new Thread(r, name);
        t.setDaemon(true);
        return t;
    }

    /** Who is told of each page a follower answers. */
    public void onServed(Served listener) {
        this.served = listener;
    }

    /** How many followers run now. */
    public int running() {
        return (int) entries.values().stream().filter(e -> e.follower != null).count();
    }

    public Stats stats() {
        return new Stats(answered.get(), answeredAfterWaiting.get(), answeredLater.get(), notRunning.get(), behind.get(),
                ahead.get(), unchecked.get(), notWaited.get(), started.get(), failedStarts.get());
    }

    @Override
    public CompletableFuture<byte[]> page(Store store, TimelineId timeline, BlockRef block, Lsn change, LaterChanges later) {
        if (!settings.enabled() || closed || store.cacheRoom().bound() > 0) {
            // a bounded (s3) store's cache would hold a second copy of the database: no followers there, as no
            // ready directories
            return CompletableFuture.completedFuture(null);
        }
        Entry e = entries.computeIfAbsent(key(store, timeline), k -> new Entry(store, timeline));
        e.lastAsked = System.nanoTime();
        Follower f = e.follower;
        if (f == null) {
            notRunning.incrementAndGet();
            startIfDue(e);
            return CompletableFuture.completedFuture(null);
        }
        Lsn key = IntervalChanges.versionKey(change);
        FollowerFiles.Read r = attempt(f, block, key);
        Lsn as = answerable(r, change, later);
        if (as != null) {
            return CompletableFuture.completedFuture(answer(timeline, block, change, as, r.page(), false));
        }
        if (!mayCome(r) || settings.readWait().isZero()) {
            return CompletableFuture.completedFuture(missed(r.outcome()));
        }
        Long inVain = e.waitedInVain.get(block);
        if (inVain != null && System.nanoTime() - inVain < IN_VAIN_NANOS) {
            notWaited.incrementAndGet();
            return CompletableFuture.completedFuture(null);
        }
        CompletableFuture<byte[]> out = new CompletableFuture<>();
        long deadline = System.nanoTime() + settings.readWait().toNanos();
        waits.schedule(() -> poll(e, f, timeline, block, change, later, key, deadline, out), POLL_MILLIS, TimeUnit.MILLISECONDS);
        return out;
    }

    @Override
    public boolean coming(Store store, TimelineId timeline) {
        Entry e = entries.get(key(store, timeline));
        return e != null && !closed && (e.follower != null || e.starting);
    }

    /** Another attempt after a pause, until the deadline; completes {@code out} with the page or null. */
    private void poll(Entry e, Follower f, TimelineId timeline, BlockRef block, Lsn change, LaterChanges later, Lsn key,
                      long deadline, CompletableFuture<byte[]> out) {
        try {
            FollowerFiles.Read r = attempt(f, block, key);
            Lsn as = answerable(r, change, later);
            if (as != null) {
                out.complete(answer(timeline, block, change, as, r.page(), true));
            } else if (mayCome(r) && System.nanoTime() < deadline && !closed) {
                waits.schedule(() -> poll(e, f, timeline, block, change, later, key, deadline, out), POLL_MILLIS,
                        TimeUnit.MILLISECONDS);
            } else {
                if (mayCome(r)) {
                    if (e.waitedInVain.size() >= IN_VAIN_KEPT) {
                        e.waitedInVain.clear();
                    }
                    e.waitedInVain.put(block, System.nanoTime());
                }
                out.complete(missed(r.outcome()));
            }
        } catch (RuntimeException | Error x) {
            out.complete(null); // the read runs redo
            throw x;
        }
    }

    private FollowerFiles.Read attempt(Follower f, BlockRef block, Lsn key) {
        try {
            return f.files.read(block.rel(), block.block(), key);
        } catch (IOException e) {
            return new FollowerFiles.Read(FollowerFiles.Outcome.UNCHECKED); // e.g. its directory removed meanwhile
        }
    }

    /**
     * The change whose version an attempt read: the one asked for (EXACT), or the later one its pd_lsn is when the
     * read's source accepts it (AHEAD: the follower replayed past the read's target, and the block is that version at a
     * later point the read may be answered at); else null.
     */
    private static Lsn answerable(FollowerFiles.Read r, Lsn change, LaterChanges later) {
        return switch (r.outcome()) {
            case EXACT -> change;
            case AHEAD -> later.lastChangeKeyed(r.pageLsn());
            default -> null;
        };
    }

    /**
     * Whether another attempt may find an answerable version: an older one on file gets the asked change once replay
     * writes it out; a newer one not answerable yet (beyond the stored end the read may move to, or the block changed
     * again since) gets the newer change once it is stored, or is written out itself.
     */
    private static boolean mayCome(FollowerFiles.Read r) {
        return r.outcome() == FollowerFiles.Outcome.BEHIND || r.outcome() == FollowerFiles.Outcome.AHEAD;
    }

    private byte[] answer(TimelineId timeline, BlockRef block, Lsn asked, Lsn as, byte[] page, boolean waited) {
        answered.incrementAndGet();
        if (waited) {
            answeredAfterWaiting.incrementAndGet();
        }
        if (!as.equals(asked)) {
            answeredLater.incrementAndGet();
        }
        served.served(timeline, block, as, page);
        return page;
    }

    private byte[] missed(FollowerFiles.Outcome outcome) {
        (switch (outcome) {
            case BEHIND -> behind;
            case AHEAD -> ahead;
            default -> unchecked;
        }).incrementAndGet();
        return null;
    }

    private void startIfDue(Entry e) {
        synchronized (e) {
            if (e.starting || e.follower != null || System.nanoTime() - e.retryAfter < 0 || closed) {
                return;
            }
            e.starting = true;
        }
        try {
            starts.execute(() -> start(e));
        } catch (java.util.concurrent.RejectedExecutionException closing) {
            e.starting = false;
        }
    }

    private void start(Entry e) {
        Path root = dir.resolve("f" + names.incrementAndGet());
        try {
            long t0 = System.nanoTime();
            Follower f = Follower.start(pg, root, e.store, e.timeline, builder, settings, conninfo.apply(e.timeline));
            if (closed) {
                f.stop();
                return;
            }
            e.follower = f;
            started.incrementAndGet();
            LOG.info("follower of timeline " + e.timeline + " replaying in " + root + " (started in "
                    + TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0) + " ms)");
        } catch (IOException | RuntimeException x) {
            failedStarts.incrementAndGet();
            e.retryAfter = System.nanoTime() + RETRY_NANOS;
            LOG.log(Level.WARNING, "no follower for timeline " + e.timeline + " (latest reads run redo; another"
                    + " try in a minute)", x);
        } finally {
            e.starting = false;
        }
    }

    /**
     * Before {@code store} closes (its storage is detached): its followers stop, after a start under way (which reads
     * the store) has ended. Blocking.
     */
    public void storeClosing(Store store) {
        List<Entry> gone = new java.util.ArrayList<>();
        entries.entrySet().removeIf(me -> me.getValue().store == store && gone.add(me.getValue()));
        if (gone.isEmpty()) {
            return;
        }
        try {
            // one thread runs starts: this runs after any under way
            starts.submit(() -> gone.forEach(e -> {
                Follower f = e.follower;
                e.follower = null;
                if (f != null) {
                    stopQuietly(f);
                }
            })).get(10, TimeUnit.MINUTES);
        } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException
                 | java.util.concurrent.RejectedExecutionException e) {
            LOG.log(Level.WARNING, "the followers of a detached storage did not stop", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Stops followers no read asked for within {@code idle_seconds}, and drops dead ones. */
    private void sweep() {
        Stats now0 = stats();
        if (!now0.equals(lastLogged)) {
            lastLogged = now0;
            LOG.info("followers: " + now0.answered() + " latest reads answered (" + now0.answeredAfterWaiting()
                    + " after waiting, " + now0.answeredLater() + " as a later change); ran redo instead: "
                    + now0.notRunning() + " with no follower running, " + now0.behind() + " older on file after waiting, "
                    + now0.ahead() + " newer on file and not the newest stored, "
                    + now0.unchecked() + " failing the checks, " + now0.notWaited() + " not waited for (waited in vain"
                    + " within 10 s); " + now0.started() + " started, " + now0.failedStarts()
                    + " failed to start");
        }
        long now = System.nanoTime();
        for (Map.Entry<String, Entry> me : entries.entrySet()) {
            Entry e = me.getValue();
            Follower f = e.follower;
            if (f == null) {
                if (!e.starting && now - e.lastAsked > settings.idle().toNanos() && now - e.retryAfter >= 0) {
                    entries.remove(me.getKey(), e);
                }
                continue;
            }
            boolean idle = now - e.lastAsked > settings.idle().toNanos();
            boolean dead = !f.alive();
            if (!idle && !dead) {
                continue;
            }
            if (dead) {
                LOG.warning("the follower of timeline " + e.timeline + " died (latest reads run redo; another is started"
                        + " in a minute if they go on): " + f.logTail());
                e.retryAfter = now + RETRY_NANOS;
            } else {
                LOG.info("stopping the follower of timeline " + e.timeline + ": no latest read asked for "
                        + settings.idle().toSeconds() + " s");
                entries.remove(me.getKey(), e);
            }
            e.follower = null;
            try {
                starts.execute(() -> stopQuietly(f));
            } catch (java.util.concurrent.RejectedExecutionException closing) {
                stopQuietly(f);
            }
        }
    }

    private static void stopQuietly(Follower f) {
        try {
            f.stop();
        } catch (IOException | RuntimeException x) {
            LOG.log(Level.WARNING, "stopping the follower of timeline " + f.timeline + " failed", x);
        }
    }

    private void removeLeftovers() throws IOException {
        if (!Files.isDirectory(dir)) {
            Files.createDirectories(dir);
            return;
        }
        List<Path> left;
        try (Stream<Path> s = Files.list(dir)) {
            left = s.toList();
        }
        for (Path root : left) {
            LOG.info("removing the follower directory a previous daemon left: " + root);
            Follower.removeLeftover(pg, root);
        }
    }

    private static String key(Store store, TimelineId timeline) {
        return store.directory() + "|" + timeline;
    }

    /** Stops every follower (each fast, in turn) and what is queued. Blocking. */
    @Override
    public void close() {
        closed = true;
        waits.shutdownNow();
        starts.shutdown();
        try {
            if (!starts.awaitTermination(10, TimeUnit.MINUTES)) {
                LOG.warning("a follower's start did not end in 10 minutes");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        for (Entry e : entries.values()) {
            Follower f = e.follower;
            e.follower = null;
            if (f != null) {
                stopQuietly(f);
            }
        }
        entries.clear();
    }
}
