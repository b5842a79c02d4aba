package dev.zenith.server.offload;

import dev.zenith.objectstore.ObjectStore;
import dev.zenith.objectstore.ObjectStoreException;
import dev.zenith.objectstore.gc.BucketGc;
import dev.zenith.objectstore.lease.Lease;
import dev.zenith.objectstore.lease.LeaseHeldException;
import dev.zenith.objectstore.lease.LeaseSettings;
import dev.zenith.objectstore.lease.Takeover;
import dev.zenith.objectstore.log.ManifestLog;
import dev.zenith.objectstore.log.ManifestWriter;
import dev.zenith.objectstore.s3.S3ObjectStore;
import dev.zenith.objectstore.transfer.BlobPins;
import dev.zenith.objectstore.transfer.Downloader;
import dev.zenith.objectstore.transfer.TransferSettings;
import dev.zenith.objectstore.transfer.Uploader;
import dev.zenith.server.domain.ConflictException;
import dev.zenith.server.domain.InvalidRequestException;

import java.time.Duration;
import java.util.OptionalLong;
import java.util.function.LongConsumer;

/**
 * One s3 storage's bucket prefix, held by this daemon: the client, the lease (a prefix another running
 * daemon holds is refused), the manifest writer, and the uploader and downloader sharing one set of pins.
 * Opening blocks (a test write, then the lease's settle time): call it from a worker.
 */
final class RemoteHome implements AutoCloseable {
    /** Small enough for the daemon's heap: (2 objects + 2 parts) x 8 MiB of buffers. */
    static final TransferSettings TRANSFERS = TransferSettings.defaults().withParallelism(2, 8 << 20, 2);
    /** Uploads' background threads (a base's pieces) run at a lower CPU priority. */
    private static final TransferSettings UPLOADS = TRANSFERS.withBackgroundStart(LowerPriority::ofThisThread);

    final S3Remote remote;
    final ObjectStore store;
    final BlobPins pins;
    final Uploader uploader;
    final Downloader downloader;
    /**
     * Where a base is copied and cut (a copy and hash of the whole store), at a lower CPU priority than the commits'
     * threads: see {@link LowerPriority}. One thread, started on the first base.
     */
    final java.util.concurrent.ExecutorService background = java.util.concurrent.Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(() -> {
            LowerPriority.ofThisThread();
            r.run();
        }, "zenith-offload-base");
        t.setDaemon(true);
        return t;
    });
    private final String owner;
    private final LeaseSettings leaseSettings;
    /** Told each new lease generation before its first manifest is written (see {@link CacheGeneration}). */
    private final LongConsumer generations;
    /** Who this daemon is in its lease records (a restart after a crash takes them over at once). */
    private final Takeover takeover;
    /** Replaced together by {@link #retake} after an outage longer than the lease. */
    volatile Lease lease;
    volatile ManifestWriter manifests;

    private RemoteHome(S3Remote remote, ObjectStore store, Lease lease, BlobPins pins, ManifestWriter manifests,
                       String owner, LeaseSettings leaseSettings, LongConsumer generations, Takeover takeover) {
        this.remote = remote;
        this.store = store;
        this.lease = lease;
        this.pins = pins;
        this.manifests = manifests;
        this.owner = owner;
        this.leaseSettings = leaseSettings;
        this.generations = generations;
        this.takeover = takeover;
        this.uploader = new Uploader(store, UPLOADS, pins);
        this.downloader = new Downloader(store, TRANSFERS);
    }

    /**
     * Takes the lease again after it ran out (S3 unreachable for longer than its validity), only if no one wrote
     * the prefix meanwhile: the newest manifest must still be ours. Otherwise another daemon has the prefix
     * and this one must not write there again (an {@link IllegalStateException} saying so).
     */
    synchronized void retake() {
        var ours = manifests.view().name();
        // our own lapsed record may still look held in S3 for a few seconds: ours to take (see Lease.successor)
        Lease fresh = Lease.acquire(store, leaseSettings, owner, ManifestLog.nextGeneration(store), lease.successor(takeover));
        var names = ManifestLog.list(store);
        if (ours.isEmpty() || names.isEmpty() || !names.lastKey().equals(ours.get())) {
            fresh.close();
            throw new PrefixTakenException("another daemon wrote " + remote + " while this one's lease had run out"
                    + " (newest manifest " + (names.isEmpty() ? "none" : names.lastKey().key()) + "); nothing more is"
                    + " uploaded: detach this storage, and attach the prefix again if it should continue from there");
        }
        generations.accept(fresh.generation());
        ManifestWriter m = ManifestWriter.open(store, fresh, ManifestWriter.Settings.defaults(), pins);
        Lease old = lease;
        lease = fresh;
        manifests = m;
        try {
            old.close();
        } catch (RuntimeException e) {
            // it had run out anyway
        }
    }

    /**
     * Checks the prefix can be written, takes its lease and the manifest log; nothing is left held on failure.
     * A cache that continues the prefix names its last generation ({@code continuing}, when known): it must still
     * be the newest manifest's, else a {@link PrefixTakenException}. {@code generations} is told each generation
     * before its first manifest is written.
     */
    static RemoteHome open(S3Remote remote, String owner, LeaseSettings leaseSettings, java.time.Duration gcGrace,
                           OptionalLong continuing, LongConsumer generations, Takeover takeover) {
        ObjectStore store = S3ObjectStore.open(remote.settings());
        Lease lease = null;
        try {
            BucketProbe.check(store, remote);
            lease = Lease.acquire(store, leaseSettings, owner, ManifestLog.nextGeneration(store), takeover);
            if (continuing.isPresent()) {
                var names = ManifestLog.list(store);
                if (!names.isEmpty() && names.lastKey().generation() > continuing.getAsLong()) {
                    throw new PrefixTakenException("another daemon wrote " + remote + " since this cache last did (newest"
                            + " manifest " + names.lastKey().key() + ", this cache's generation " + continuing.getAsLong()
                            + "); nothing is uploaded from here: detach this storage, and attach the prefix again to"
                            + " continue from what it holds");
                }
            }
            generations.accept(lease.generation());
            BlobPins pins = new BlobPins(gcGrace);
            ManifestWriter manifests = ManifestWriter.open(store, lease, ManifestWriter.Settings.defaults(), pins);
            return new RemoteHome(remote, store, lease, pins, manifests, owner, leaseSettings, generations, takeover);
        } catch (LeaseHeldException e) {
            closeQuietly(store, null);
            throw new ConflictException("cannot attach " + remote + ": it is in use by another running daemon ("
                    + e.getMessage() + ")");
        } catch (ObjectStoreException e) {
            closeQuietly(store, lease);
            throw new InvalidRequestException("cannot attach " + remote + ": " + e.getMessage());
        } catch (RuntimeException e) {
            closeQuietly(store, lease);
            throw e;
        }
    }

    private static void closeQuietly(ObjectStore store, Lease lease) {
        try {
            if (lease != null) {
                lease.close();
            }
        } catch (RuntimeException e) {
            // the lease runs out by itself
        }
        try {
            store.close();
        } catch (Exception e) {
            // nothing more to do
        }
    }

    /** Deletes the prefix's garbage (see {@link BucketGc}); blocking, the lease holder's. */
    BucketGc.Report collectGarbage(int keepManifests) {
        return new BucketGc(store, lease, pins, new BucketGc.Settings(keepManifests, java.time.Duration.ofDays(1))).run();
    }

    /** Stops transfers, releases the lease (the next holder need not wait for it to run out). */
    @Override
    public void close() {
        background.shutdownNow();
        uploader.close();
        downloader.close();
        closeQuietly(store, lease);
    }
}
