package dev.zenith.server.offload;

import dev.zenith.objectstore.transfer.TransferProgress;
import dev.zenith.storage.Store;
import dev.zenith.storage.StoreStats;
import dev.zenith.storage.timeline.Timeline;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.wal.Lsn;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Keeps one s3 storage's bucket prefix caught up with its local store, on a thread of its own, never on
 * the commit path: every {@code interval} the WAL LMDB holds beyond the prefix's goes up (pieces of at
 * most {@code pieceBytes}, again at once while more is waiting), and when anything but WAL changed
 * (documents, timelines, images, page versions) a new base, at most every {@code baseInterval} unless a
 * {@link #sync} asks. While a base (or S3 GC) holds the round, a second thread ships the WAL every
 * {@code interval} beside it (see {@link #shipBesideTheRound}). Failures are kept for {@link #describe} and logged when they start and end; the
 * uploader retries them with backoff.
 */
final class StorageOffload implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(StorageOffload.class.getName());

    private final String name;
    private final Store store;
    private final S3Remote remote;
    /** Null while the prefix is not reached yet ({@link #reconnect} tries); then set once. */
    private volatile RemoteHome home;
    private volatile Reconnect reconnect;
    private final Path scratch;
    private final OffloadSettings settings;
    private final Map<TimelineId, Lsn> remoteEnds = new ConcurrentHashMap<>();
    private final ScheduledExecutorService thread;
    private final ScheduledExecutorService watcher;
    /** Ships WAL while the round is past its own shipping (a base uploads, S3 GC runs): the lag must not wait for them. */
    private final ScheduledExecutorService besideRound;
    /** The round has shipped its WAL and is busy with the rest (a base, S3 GC): {@link #besideRound} ships meanwhile. */
    private volatile boolean roundPastWal;
    /** Eviction on a thread of its own: a round's base upload must not hold it up while data loads. */
    private final ScheduledExecutorService evictor;
    /** Held by an eviction pass (a segment is listed before pointers name it) and by a base dropping unnamed segments. */
    private final java.util.concurrent.locks.Lock evicting = new java.util.concurrent.locks.ReentrantLock();
    /**
     * Held while WAL is shipped: by the round, by the thread beside it while a base holds the round, or by eviction
     * (see {@link #evictIfWanted}). One shipper at a time: each reads from where the prefix's WAL ends.
     */
    private final java.util.concurrent.locks.Lock shipping = new java.util.concurrent.locks.ReentrantLock();
    private volatile long lastShippedNanos;
    private final UploadHealth health;
    private volatile byte[] uploadedFingerprint = new byte[0];
    /** What a timeline or document was created or dropped changes: such a change goes up at the next round. */
    private volatile byte[] uploadedShape = new byte[0];
    /** Each timeline's own WAL start when the last base was copied: GC raising one frees WAL the prefix still lists. */
    private volatile Map<TimelineId, Lsn> basedWalStarts = Map.of();
    private volatile long lastBaseNanos;
    /** How long the last base took (its copy of the store, hashing, uploads): the next waits 10 times that. */
    private volatile long lastBaseTookNanos;
    private volatile long lastGcNanos;
    private volatile boolean baseWanted;
    private volatile long evictedWalBytes;
    private volatile long evictedValueBytes;
    private volatile String lastBase;
    private volatile String error;
    private volatile Instant errorSince;
    /** The log said the page index crowds the bound (said once until it no longer does). */
    private volatile boolean indexCrowdingLogged;
    /** Another daemon has the prefix: nothing is uploaded any more. */
    private volatile boolean fenced;

    /** An offload of a prefix already reached. */
    StorageOffload(String name, Store store, RemoteHome home, Path scratch, OffloadSettings settings) {
        this(name, store, home.remote, scratch, settings);
        connected(home);
    }

    /**
     * An offload of a storage opened from its cache while its prefix cannot be reached ({@code why}): the
     * store is used at once, and the prefix is tried with backoff by the offload's thread; nothing is
     * uploaded until it answers.
     */
    StorageOffload(String name, Store store, S3Remote remote, java.util.function.Supplier<RemoteHome> reach, String why,
                   Path scratch, OffloadSettings settings) {
        this(name, store, remote, scratch, settings);
        this.reconnect = new Reconnect(name, reach, why);
    }

    private StorageOffload(String name, Store store, S3Remote remote, Path scratch, OffloadSettings settings) {
        this.name = name;
        this.store = store;
        this.remote = remote;
        this.scratch = scratch;
        this.settings = settings;
        this.health = new UploadHealth(name, remote.toString(), Duration.ofSeconds(2));
        store.wal().remote(new RemoteWalReader(() -> home));
        store.coldValues().source(new RemoteSegments(() -> home));
        this.watcher = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "zenith-offload-watch-" + name);
            t.setDaemon(true);
            return t;
        });
        this.evictor = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "zenith-offload-evict-" + name);
            t.setDaemon(true);
            return t;
        });
        if (settings.bounded()) {
            store.cacheRoom().bound(settings.cacheBytes());
        }
        this.thread = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "zenith-offload-" + name);
            t.setDaemon(true);
            return t;
        });
        this.besideRound = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "zenith-offload-wal-" + name);
            t.setDaemon(true);
            return t;
        });
    }

    /** The prefix is reached: what it holds is where the uploads go on from. */
    private void connected(RemoteHome reached) {
        this.lastBase = reached.manifests.view().properties().get(RemoteNames.CURRENT_BASE);
        reached.manifests.view().properties().forEach((k, v) -> {
            if (k.startsWith("timeline.") && k.endsWith(".remote_lsn")) {
                remoteEnds.put(TimelineId.parse(k.substring("timeline.".length(), k.length() - ".remote_lsn".length())), Lsn.parse(v));
            }
        });
        this.baseWanted = lastBase == null;
        this.home = reached;
        watchLease();
    }

    private void watchLease() {
        RemoteHome h = home;
        h.lease.onLost(why -> fail("the lease of " + h.remote + " ran out (" + why
                + "); it is taken again when S3 answers, unless another daemon took the prefix"));
    }

    /**
     * The store was just restored from the prefix's current base plus the WAL pieces after it: the prefix holds all of
     * it, so no base is due for it (the first round took one at once: a copy and hash of the whole store, ~1 GB at
     * pgbench scale 50, competing with the restored pg's first start). Later changes go up as after any base, spaced
     * as after one that took {@code tookNanos}, the restore's time (a base copies and hashes the same bytes): the
     * adopted pgs' records alone, changed at once, waited only base_interval, and that base ran during the first start.
     * Before {@link #start}.
     */
    void restoredFromPrefix(long tookNanos) {
        uploadedFingerprint = fingerprint();
        uploadedShape = shape();
        basedWalStarts = walStarts();
        lastBaseNanos = System.nanoTime();
        lastBaseTookNanos = tookNanos;
    }

    void start() {
        thread.scheduleWithFixedDelay(surviving("upload round", this::round), 0, settings.interval().toMillis(),
                TimeUnit.MILLISECONDS);
        long besideMs = Math.max(1, settings.interval().toMillis() / BESIDE_CHECKS_PER_INTERVAL);
        besideRound.scheduleWithFixedDelay(surviving("WAL upload beside a base", this::shipBesideTheRound), besideMs,
                besideMs, TimeUnit.MILLISECONDS);
        if (settings.bounded()) {
            evictor.scheduleWithFixedDelay(surviving("eviction", this::evictIfWanted), EVICT_CHECK_MS, EVICT_CHECK_MS,
                    TimeUnit.MILLISECONDS);
        }
        watcher.scheduleWithFixedDelay(surviving("upload watch", () -> {
            RemoteHome h = home;
            if (h != null) {
                health.check(h.uploader.progress().snapshot());
            }
        }), 1, 1, TimeUnit.SECONDS);
    }

    /**
     * A task of a fixed-delay schedule that survives what it throws: a throwable escaping it would end the schedule
     * without a word, and with it eviction (commits would then wait for cache room for good) or the uploads.
     */
    private Runnable surviving(String what, Runnable task) {
        return () -> {
            try {
                task.run();
            } catch (Throwable t) {
                if (error == null) {
                    LOG.log(Level.WARNING, "storage '" + name + "': " + what + " failed; it runs again", t);
                }
                fail(what + ": " + t);
            }
        };
    }

    /** Nothing is uploaded any more ({@code why} shows in storage show): the prefix is someone else's. */
    void stopUploading(String why) {
        fenced = true;
        fail(why);
    }

    /** How often the store's used bytes are compared with where eviction starts. */
    private static final long EVICT_CHECK_MS = 100;

    /**
     * Above {@link dev.zenith.storage.lmdb.CacheRoom#EVICT_ABOVE} of the bound: WAL the prefix holds, then the least
     * recently read values (packed into segments, uploaded and listed first), down to the eviction target.
     * While S3 does not answer, this waits in the upload's retries; what grows the store then waits for room.
     */
    private void evictIfWanted() {
        RemoteHome h = home;
        if (h == null || fenced) {
            return;
        }
        try {
            store.coldValues().writeBack(); // values read back from S3, kept while the bound leaves room
        } catch (RuntimeException e) {
            LOG.log(java.util.logging.Level.WARNING, "writing values read back from S3 into " + store.directory() + " failed", e);
        }
        if (!store.cacheRoom().evictionWanted()) {
            store.cacheRoom().aboveFloor(); // what was stored since may be evicted again: no floor known
            return;
        }
        evicting.lock();
        try {
            shipWalIfIdle(h);
            Map<TimelineId, Lsn> shipped = Map.copyOf(remoteEnds);
            long wal = CacheBound.evictIfAbove(store, h, shipped, store.cacheRoom(), settings.pieceBytes());
            store.cacheRoom().changed();
            long values = CacheBound.evictValuesIfAbove(store, h, store.cacheRoom());
            evictedValueBytes += values;
            store.cacheRoom().changed();
            if (!remoteEnds.equals(shipped)) {
                // the round shipped WAL while the values went up (seconds under load): S3 holds it now, so it goes
                // before any floor is declared (else the floor held up to a round's WAL, 6-10 MB at a 16 MiB bound)
                shipped = Map.copyOf(remoteEnds);
                wal += CacheBound.evictIfAbove(store, h, shipped, store.cacheRoom(), settings.pieceBytes());
                store.cacheRoom().changed();
            }
            evictedWalBytes += wal;
            long behind = walNotHeld(shipped); // against what the WAL eviction knew S3 holds
            if (wal > 0 || values > 0 || behind > FLOOR_WAL_BYTES) {
                store.cacheRoom().aboveFloor(); // more may be evicted, or once S3 holds the WAL: waiting helps
            } else if (store.cacheRoom().evictionWanted()) {
                boolean first = store.cacheRoom().floor() == null;
                long now = System.nanoTime();
                if (first || now - floorDescribedNanos > FLOOR_DESCRIBED_NANOS) { // a stat of every table: not each pass
                    store.cacheRoom().atFloor(whatHoldsTheFloor(behind));
                    floorDescribedNanos = now;
                }
                if (first) {
                    LOG.info("storage '" + name + "': eviction has nothing more it may evict at " + store.cacheRoom().usedBytes()
                            + " of " + store.cacheRoom().bound() + " bytes (" + store.cacheRoom().floor() + ")");
                }
            }
        } catch (Exception e) {
            fail("eviction: " + (e.getMessage() == null ? e.toString() : e.getMessage()));
        } finally {
            evicting.unlock();
        }
        logIndexCrowding();
    }

    /** How often per interval the thread beside the round looks whether WAL is due while the round is busy. */
    private static final int BESIDE_CHECKS_PER_INTERVAL = 4;

    /**
     * The round ships WAL before its base, then copies, hashes and uploads the whole store (seconds to minutes under
     * load, at nice 10) and may collect S3's garbage: meanwhile WAL would wait, 2-48 s seen at pgbench scale 10. So while
     * the round is past its WAL, this ships it every interval, as the round does between bases. The base's own end moves
     * the prefix's WAL end forward only ({@link #round}): pieces shipped beside it stay listed where the base does not
     * hold them.
     */
    private void shipBesideTheRound() {
        RemoteHome h = home;
        if (roundPastWal && h != null && !fenced) {
            shipWalIfIdle(h);
        }
    }

    /**
     * Ships the WAL when nothing did for an interval and nobody ships now (else nothing). Besides the thread beside the
     * round, eviction calls it: only WAL S3 holds can be evicted, so WAL loading against the bound must not wait for
     * the round either.
     */
    private void shipWalIfIdle(RemoteHome h) {
        if (System.nanoTime() - lastShippedNanos < settings.interval().toNanos() || !h.lease.isValid()
                || !shipping.tryLock()) {
            return;
        }
        try {
            shipWal(h);
        } finally {
            shipping.unlock();
        }
    }

    /** Ships the WAL the store holds beyond the prefix's, all of it (pieces); the caller holds {@link #shipping}. */
    private void shipWal(RemoteHome h) {
        WalShipping.Round r;
        do {
            r = WalShipping.run(store, h, remoteEnds, settings.pieceBytes());
            r.shipped().forEach(this::advanceRemoteEnd);
        } while (r.more());
        lastShippedNanos = System.nanoTime();
    }

    /** Shipping moves what the prefix holds of a timeline's WAL forward only (a base may end meanwhile, further on). */
    private void advanceRemoteEnd(TimelineId id, Lsn end) {
        remoteEnds.merge(id, end, (a, b) -> a.isAfter(b) ? a : b);
    }

    /**
     * WAL S3 may still take beside a floor: up to this much not held yet (a commit's or a checkpoint's) still counts as
     * the floor; more, and the floor is not one (eviction frees that WAL once S3 holds it: waiting helps).
     */
    private static final long FLOOR_WAL_BYTES = 1 << 20;
    /** What holds the floor is described again at most this often while the store stays at it (wait reasons). */
    private static final long FLOOR_DESCRIBED_NANOS = 10_000_000_000L;
    private long floorDescribedNanos;

    /**
     * The bytes of WAL the store holds that S3 does not hold yet as far as {@code remote} says, every timeline's (all its
     * local WAL without a remote_lsn).
     */
    private long walNotHeld(Map<TimelineId, Lsn> remote) {
        long behind = 0;
        for (Timeline t : store.timelines().all()) {
            Held h = held(t.id(), remote);
            long b = h.behind();
            behind += b >= 0 ? b : h.end().minus(store.wal().localStart(t.id()).orElse(h.end()));
        }
        return behind;
    }

    /** A timeline's stored WAL end (null: none stored) and what the prefix holds of it (null: nothing yet). */
    private record Held(Lsn end, Lsn remote) {
        /** Bytes of the stored WAL S3 does not hold; -1 when unknown (no remote_lsn: created after the last base). */
        long behind() {
            return end == null ? 0 : remote == null ? -1 : Math.max(0, end.minus(remote));
        }
    }

    private Held held(TimelineId id, Map<TimelineId, Lsn> remote) {
        return new Held(store.wal().end(id).orElse(null), remote.get(id));
    }

    /**
     * What holds the store's used bytes once eviction has nothing more it may evict: the largest tables (the page index's
     * block_changes, the pointers left in pages...) and the WAL S3 does not hold yet. For wait reasons.
     */
    private String whatHoldsTheFloor(long behind) {
        StringBuilder b = new StringBuilder();
        store.usedBytesByTable().entrySet().stream().filter(e -> e.getValue() > 0).limit(5)
                .forEach(e -> b.append(b.isEmpty() ? "" : ", ").append(e.getKey()).append(' ').append(e.getValue()));
        return "the largest tables' bytes: " + b + "; WAL S3 does not hold yet: " + behind + " bytes";
    }

    /** Says once in the log when the page index alone keeps the store above eviction's target (commits will wait). */
    private void logIndexCrowding() {
        boolean crowds = store.cacheRoom().indexCrowds();
        if (crowds && !indexCrowdingLogged) {
            LOG.warning("storage '" + name + "': the page index holds " + store.cacheRoom().indexBytes() + " bytes of the "
                    + store.cacheRoom().bound() + "-byte cache bound and is never evicted; once it fills the cache, commits"
                    + " wait: raise --cache-size or free index entries with storage gc (a shorter --pitr)");
        }
        indexCrowdingLogged = crowds;
    }

    /** One round: WAL first (the lag that matters), then a base when one is due. */
    private void round() {
        try {
            if (fenced) {
                return;
            }
            if (home == null) {
                RemoteHome reached;
                try {
                    reached = reconnect.attempt();
                } catch (PrefixTakenException e) {
                    fenced = true;
                    throw e;
                }
                if (reached == null) {
                    return;
                }
                LOG.info("storage '" + name + "': " + remote + " answers (unreachable since " + reconnect.since()
                        + "); uploading what was committed meanwhile");
                connected(reached);
                reconnect = null;
            }
            if (!home.lease.isValid()) {
                try {
                    home.retake();
                } catch (PrefixTakenException | dev.zenith.objectstore.lease.LeaseHeldException e) {
                    fenced = true;
                    throw e;
                }
                watchLease();
                LOG.info("storage '" + name + "': took the lease of " + home.remote + " again");
            }
            shipping.lock();
            try {
                shipWal(home);
            } finally {
                shipping.unlock();
            }
            roundPastWal = true; // from here on WAL ships beside the round (shipBesideTheRound)
            byte[] now = fingerprint();
            byte[] shape = shape();
            boolean changed = !Arrays.equals(now, uploadedFingerprint);
            boolean due = System.nanoTime() - lastBaseNanos >= baseSpacingNanos();
            // a new (or dropped) timeline, pg or snapshot goes up at once: a kill -9 must not lose a branch
            // whose commits S3 would otherwise hold only after base_interval
            boolean reshaped = !Arrays.equals(shape, uploadedShape);
            // GC freed WAL (and the block changes packed with it, maybe evicted to segments): only a base drops
            // those from the manifest, so S3 GC can delete them; GC runs rarely (hourly), so this adds few bases
            Map<TimelineId, Lsn> walStarts = walStarts();
            boolean walFreed = walFreedSince(basedWalStarts, walStarts);
            if (baseWanted || walFreed || (changed && (due || reshaped))) {
                long started = System.nanoTime();
                Map<TimelineId, Lsn> shippedBefore = Map.copyOf(remoteEnds);
                BaseUpload.Result base = BaseUpload.run(store, home, scratch, settings.bounded(), evicting);
                uploadedFingerprint = now;
                uploadedShape = shape;
                basedWalStarts = walStarts;
                lastBaseNanos = System.nanoTime();
                lastBaseTookNanos = lastBaseNanos - started;
                baseWanted = false;
                lastBase = base.baseId();
                // the base says where each timeline's WAL ends (lower too, where it was cut), unless WAL shipped beside
                // it (the thread beside the round, eviction) went further while it uploaded
                base.walEnds().forEach((id, end) -> remoteEnds.compute(id, (k, shipped) ->
                        shipped == null || shipped.equals(shippedBefore.get(id)) || end.isAfter(shipped) ? end : shipped));
                String took = "storage '" + name + "': base " + base.baseId() + " (" + base.bytes() + " bytes) is in "
                        + home.remote + " after " + lastBaseTookNanos / 1_000_000 + " ms";
                if (lastBaseTookNanos > 1_000_000_000L) { // slow enough to space the next ones out: say so
                    LOG.info(took + "; the next base for changes other than WAL waits " + baseSpacingNanos() / 1_000_000 + " ms");
                } else {
                    LOG.fine(took);
                }
            }
            collectGarbageIfDue();
            if (error != null) {
                LOG.info("storage '" + name + "': uploads to " + home.remote + " work again (failing since " + errorSince + ")");
                error = null;
                errorSince = null;
            }
        } catch (Exception e) {
            fail(e.getMessage() == null ? e.toString() : e.getMessage());
            if (!(e instanceof RuntimeException)) {
                LOG.log(Level.FINE, "offload round failed", e);
            }
        } finally {
            roundPastWal = false;
        }
    }

    /**
     * The least time between bases taken for changed page versions and documents: {@code base_interval}, or ten
     * times what the last base took when that is longer. A base copies the whole store and reads it back to hash its
     * pieces; under a steady write load (every checkpoint materializes page versions) taking one every base_interval
     * kept the disk and a core busy beside the pgs' commits. WAL is not held back by this (it goes up every round),
     * nor a new timeline, pg or snapshot (reshaped), nor a clean stop's sync: only how often the rest is re-based.
     */
    private long baseSpacingNanos() {
        return baseSpacingNanos(settings.baseInterval(), lastBaseTookNanos);
    }

    static long baseSpacingNanos(Duration baseInterval, long lastBaseTookNanos) {
        return Math.max(baseInterval.toNanos(), BASE_DUTY * lastBaseTookNanos);
    }

    /** Each timeline's own WAL start (only GC raises one; eviction moves where the local WAL starts, not this). */
    private Map<TimelineId, Lsn> walStarts() {
        return store.wal().ownStarts();
    }

    /** Whether a timeline the last base held WAL of starts later now: GC freed WAL the prefix still lists. */
    private static boolean walFreedSince(Map<TimelineId, Lsn> based, Map<TimelineId, Lsn> now) {
        for (Map.Entry<TimelineId, Lsn> e : based.entrySet()) {
            Lsn start = now.get(e.getKey());
            if (start != null && start.isAfter(e.getValue())) {
                return true;
            }
        }
        return false;
    }

    /** A base may take at most about 1/BASE_DUTY of the time while the store keeps changing. */
    static final int BASE_DUTY = 10;

    /** What the prefix no longer lists (earlier bases, WAL a base holds) is deleted, after the grace, every gc interval. */
    private void collectGarbageIfDue() {
        if (System.nanoTime() - lastGcNanos < settings.gcInterval().toNanos() && lastGcNanos != 0) {
            return;
        }
        lastGcNanos = System.nanoTime();
        var report = home.collectGarbage(settings.keepManifests());
        if (report.blobsDeleted() > 0 || report.manifestsDeleted() > 0) {
            LOG.info("storage '" + name + "': deleted " + report.blobsDeleted() + " objects (" + report.bytesFreed()
                    + " bytes) and " + report.manifestsDeleted() + " manifests no longer needed from " + home.remote);
        }
    }

    private void fail(String why) {
        if (error == null) {
            errorSince = Instant.now();
            LOG.warning("storage '" + name + "': uploading to " + remote + " fails: " + why
                    + "; commits go on from the local journal and the upload catches up when it works again");
        }
        error = why;
    }

    /**
     * Everything but WAL that a base carries: documents (pgs, snapshots...), the timeline tree, and how many
     * images, page versions and stored files there are. Equal fingerprints: no new base needed.
     */
    private byte[] fingerprint() {
        try {
            MessageDigest d = MessageDigest.getInstance("SHA-256");
            new TreeMap<>(store.documents().list("")).forEach((k, v) -> {
                d.update(k.getBytes(StandardCharsets.UTF_8));
                d.update((byte) 0);
                d.update(v);
            });
            for (Timeline t : store.timelines().all()) {
                d.update(t.id().toString().getBytes(StandardCharsets.US_ASCII));
                Lsn end = store.wal().end(t.id()).orElse(null);
                Lsn remote = remoteEnds.get(t.id());
                if (end != null && remote == null) {
                    d.update((byte) 1); // WAL of a timeline no base has yet (one without WAL would never get a remote_lsn)
                }
                if (end != null && remote != null && end.isBefore(remote)) {
                    d.update((byte) 2); // its WAL was cut below what the prefix holds: only a base says so
                }
            }
            StoreStats stats = store.stats();
            for (String table : new String[]{"images", "pages", "blobs"}) {
                d.update(Long.toString(stats.entries(table)).getBytes(StandardCharsets.US_ASCII));
            }
            return d.digest();
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * What exists: the timelines and the names of the documents (pgs, snapshots...), not their contents
     * (a pg's record changes with each start and stop: that waits for base_interval).
     */
    private byte[] shape() {
        try {
            MessageDigest d = MessageDigest.getInstance("SHA-256");
            new TreeMap<>(store.documents().list("")).keySet().forEach(k -> {
                d.update(k.getBytes(StandardCharsets.UTF_8));
                d.update((byte) 0);
            });
            for (Timeline t : store.timelines().all()) {
                d.update(t.id().toString().getBytes(StandardCharsets.US_ASCII));
            }
            return d.digest();
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Whether the prefix holds everything the store holds now (WAL to its end, and a base of the rest). */
    private boolean caughtUp() {
        if (home == null) {
            return false;
        }
        for (Timeline t : store.timelines().all()) {
            Lsn end = store.wal().end(t.id()).orElse(null);
            Lsn remote = remoteEnds.get(t.id());
            if (end != null && (remote == null || !remote.equals(end))) {
                return false;
            }
        }
        return !baseWanted && Arrays.equals(fingerprint(), uploadedFingerprint);
    }

    /**
     * Waits until the prefix holds everything the store holds now (a base taken at once if anything but WAL
     * changed); false when {@code timeout} passed first (S3 unreachable: the data stays local and the
     * uploads go on). Blocking; never on an event loop.
     */
    boolean sync(java.time.Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            if (caughtUp()) {
                return true;
            }
            if (!Arrays.equals(fingerprint(), uploadedFingerprint)) {
                baseWanted = true;
            }
            long left = deadline - System.nanoTime();
            if (left <= 0 || fenced) {
                return false;
            }
            try {
                thread.submit(this::round).get(left, TimeUnit.NANOSECONDS);
            } catch (TimeoutException e) {
                return false;
            } catch (ExecutionException e) {
                return false;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
            } catch (java.util.concurrent.RejectedExecutionException e) {
                return false;
            }
            if ((error != null || home == null) && !caughtUp()) { // failing, or S3 not reached yet: no busy loop
                PauseBriefly.sleep(200);
            }
        }
    }

    /**
     * Per timeline, where the WAL the prefix does not hold begins ({@code remote_lsn}): WAL shipping reads it from
     * the local store, so garbage collection must keep it (else the prefix would stay behind for good, with a gap).
     * A timeline the prefix holds nothing of yet is not named: the next base carries what the store then has.
     * Before the prefix was reached since the daemon started, what it holds is not known: every timeline from
     * the start of its own WAL.
     */
    Map<TimelineId, Lsn> walNotYetRemote() {
        Map<TimelineId, Lsn> out = new java.util.HashMap<>();
        boolean known = home != null;
        for (Timeline t : store.timelines().all()) {
            Lsn from = known ? remoteEnds.get(t.id()) : store.wal().ownStart(t.id()).orElse(null);
            if (from != null) {
                out.put(t.id(), from);
            }
        }
        return out;
    }

    /** For {@code storage show}: per timeline what the prefix holds and how far behind it is. */
    JsonObject describe() {
        RemoteHome home = this.home;
        Reconnect reconnecting = this.reconnect;
        if (home == null) {
            return unreached(reconnecting);
        }
        JsonArray timelines = new JsonArray();
        long behind = 0;
        for (Timeline t : store.timelines().all()) {
            Held h = held(t.id(), remoteEnds);
            long b = h.behind();
            JsonObject tl = new JsonObject().put("timeline", t.id().toString())
                    .put("local_lsn", h.end() == null ? null : h.end().toString())
                    .put("remote_lsn", h.remote() == null ? null : h.remote().toString());
            if (b >= 0) {
                tl.put("unuploaded_wal_bytes", b);
                behind += b;
            } else {
                tl.put("unuploaded_wal_bytes", null).put("note", "created after the last base: it goes up with the next one");
            }
            timelines.add(tl);
        }
        TransferProgress.Snapshot p = home.uploader.progress().snapshot();
        JsonObject json = new JsonObject().put("url", home.remote.location().toString())
                .put("state", fenced ? "stopped" : "connected")
                .put("lease_generation", home.lease.generation()).put("lease_valid", home.lease.isValid())
                .put("timelines", timelines).put("unuploaded_wal_bytes", behind)
                .put("uploading_bytes", p.pendingBytes()).put("uploaded_bytes", p.sentBytes())
                .put("upload_lag_ms", p.lag().toMillis()).put("upload_retries", p.retries())
                .put("base", lastBase).put("base_pending", baseWanted || !Arrays.equals(fingerprint(), uploadedFingerprint)
                        || walFreedSince(basedWalStarts, walStarts()))
                .put("cache_bytes", settings.bounded() ? settings.cacheBytes() : null).put("index_bytes", store.cacheRoom().indexBytes())
                .put("eviction_floor", store.cacheRoom().floor())
                .put("evicted_wal_bytes", evictedWalBytes)
                .put("evicted_value_bytes", evictedValueBytes).put("fetched_values", store.coldValues().fetchedValues())
                .put("written_back_values", store.coldValues().writtenBackValues());
        if (error != null) {
            json.put("error", error).put("error_since", errorSince.toString());
        } else if (health.failing() != null) {
            json.put("error", health.failing()).put("error_since", String.valueOf(health.since()));
        }
        return json;
    }

    /** Storage show before the prefix is reached: local ends only, and why it is not reached. */
    private JsonObject unreached(Reconnect reconnecting) {
        JsonArray timelines = new JsonArray();
        for (Timeline t : store.timelines().all()) {
            Lsn end = store.wal().end(t.id()).orElse(null);
            timelines.add(new JsonObject().put("timeline", t.id().toString())
                    .put("local_lsn", end == null ? null : end.toString()).put("remote_lsn", null)
                    .put("unuploaded_wal_bytes", null));
        }
        JsonObject json = new JsonObject().put("url", remote.location().toString())
                .put("state", fenced ? "stopped" : "connecting").put("lease_valid", false)
                .put("timelines", timelines).put("unuploaded_wal_bytes", null).put("base", null).put("base_pending", true);
        if (fenced || reconnecting == null) {
            json.put("error", error).put("error_since", errorSince == null ? null : errorSince.toString());
        } else {
            reconnecting.describeInto(json);
        }
        return json;
    }

    /** Uploads what is left (up to {@code settings.stopWait()}), stops the thread, releases the prefix. */
    @Override
    public void close() {
        if (!sync(settings.stopWait())) {
            LOG.warning("storage '" + name + "': " + remote + " does not hold everything yet (" + describe()
                    + "); the rest is uploaded when the storage is next opened here");
        }
        evictor.shutdownNow();
        besideRound.shutdownNow();
        thread.shutdownNow();
        watcher.shutdownNow();
        try {
            thread.awaitTermination(10, TimeUnit.SECONDS);
            besideRound.awaitTermination(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        RemoteHome h = home;
        if (h != null) {
            h.close();
        }
    }
}
