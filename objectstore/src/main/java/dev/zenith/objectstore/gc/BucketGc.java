package dev.zenith.objectstore.gc;

import static dev.zenith.objectstore.Futures.join;

import dev.zenith.objectstore.ObjectInfo;
import dev.zenith.objectstore.ObjectStore;
import dev.zenith.objectstore.ObjectStoreException;
import dev.zenith.objectstore.PendingUpload;
import dev.zenith.objectstore.format.ObjectNames;
import dev.zenith.objectstore.format.ObjectNames.ManifestName;
import dev.zenith.objectstore.lease.Lease;
import dev.zenith.objectstore.log.ManifestLog;
import dev.zenith.objectstore.log.ManifestLog.Retention;
import dev.zenith.objectstore.transfer.BlobPins;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.logging.Logger;

/**
 * Garbage collection of a storage prefix, run by its lease holder (the one process that writes its
 * manifests), from a worker thread. One run:
 *
 * <ol>
 *   <li>reads the retention ({@link ManifestLog#retention}): the newest {@code keepManifests}
 *       manifests of the current chain, back to the full one they need, and every blob they list;</li>
 *   <li>deletes every other manifest, oldest first (older ones of the chain, and those off it: a
 *       writer's that lost its lease, a crashed writer's) - before any blob, so no manifest that
 *       is still there names a deleted blob;</li>
 *   <li>deletes each blob no retained manifest lists, if the server's time of it is older than the
 *       grace (a blob another process just uploaded for a manifest it has not written yet stays)
 *       and this process's {@link BlobPins} let it (a blob its uploader found or sent for a manifest
 *       not yet written stays, however old);</li>
 *   <li>aborts multipart uploads under {@code blobs/} started longer than {@code uploadGrace} ago
 *       whose key is not pinned (an interrupted upload nobody resumed). "Started" is the server's
 *       initiation time or, if earlier, when this GC first saw the upload: S3Proxy reports the time
 *       of the listing as every upload's initiation time.</li>
 * </ol>
 *
 * Blob deletions stop when the retention is {@code grace} old (the pins' guarantee needs that) or
 * the lease is no longer valid; what is left waits for the next run. One instance per prefix,
 * its runs one at a time.
 */
public final class BucketGc {
    private static final Logger LOG = Logger.getLogger(BucketGc.class.getName());
    private static final int DELETES_IN_FLIGHT = 16;

    /**
     * @param keepManifests the newest manifests of the chain that stay (with the full one below them)
     * @param uploadGrace   multipart uploads older than this are aborted
     */
    public record Settings(int keepManifests, Duration uploadGrace) {
        public Settings {
            if (keepManifests < 1 || uploadGrace.isNegative()) {
                throw new IllegalArgumentException("keep at least one manifest; uploadGrace is not negative");
            }
        }

        /** 128 manifests (two full ones with 64-delta chains), uploads abandoned for a day. */
        public static Settings defaults() {
            return new Settings(128, Duration.ofDays(1));
        }
    }

    /** What one run did. {@code cutShort}: it stopped deleting blobs early (the next run continues). */
    public record Report(int manifestsDeleted, int blobsDeleted, long bytesFreed, int blobsKeptYoung, int blobsKeptPinned,
                         int uploadsAborted, boolean cutShort) {
    }

    private final ObjectStore store;
    private final Lease lease;
    private final BlobPins pins;
    private final Settings settings;
    private final Map<String, Instant> uploadsFirstSeen = new HashMap<>();

    public BucketGc(ObjectStore store, Lease lease, BlobPins pins, Settings settings) {
        this.store = store;
        this.lease = lease;
        this.pins = pins;
        this.settings = settings;
    }

    public synchronized Report run() {
        requireLease(store, lease);
        long readAt = System.nanoTime();
        Optional<Retention> found = ManifestLog.retention(store, settings.keepManifests());
        if (found.isEmpty()) {
            return new Report(0, 0, 0, 0, 0, abortStaleUploads(), false);
        }
        Retention r = found.get();
        int manifests = deleteManifests(r);

        Duration grace = pins.grace();
        Instant youngFrom = Instant.now().minus(grace);
        Set<String> referenced = r.referencedKeys();
        List<ObjectInfo> candidates = new ArrayList<>();
        int young = 0;
        for (ObjectInfo o : join(store.list(ObjectNames.BLOBS))) {
            if (ObjectNames.blobHash(o.key()).isEmpty() || referenced.contains(o.key())) {
                continue; // not ours to judge, or kept
            }
            if (o.lastModified().isAfter(youngFrom)) {
                young++;
            } else {
                candidates.add(o);
            }
        }
        int deleted = 0;
        int pinned = 0;
        long freed = 0;
        boolean cutShort = false;
        List<CompletableFuture<Void>> inFlight = new ArrayList<>();
        List<ObjectInfo> claimed = new ArrayList<>();
        for (ObjectInfo o : candidates) {
            if (System.nanoTime() - readAt >= grace.toNanos() || !lease.isValid()) {
                cutShort = true;
                break;
            }
            if (!pins.beginDelete(o.key())) {
                pinned++;
                continue;
            }
            claimed.add(o);
            inFlight.add(store.delete(o.key()).whenComplete((v, e) -> pins.endDelete(o.key())));
            if (inFlight.size() >= DELETES_IN_FLIGHT) {
                deleted += settle(inFlight);
                freed += claimed.stream().mapToLong(ObjectInfo::size).sum();
                claimed.clear();
            }
        }
        deleted += settle(inFlight);
        freed += claimed.stream().mapToLong(ObjectInfo::size).sum();
        int aborted = abortStaleUploads();
        Report report = new Report(manifests, deleted, freed, young, pinned, aborted, cutShort);
        LOG.info("GC of " + store.describe() + ": " + report);
        return report;
    }

    private int deleteManifests(Retention r) {
        Set<ManifestName> kept = r.keptNames();
        int n = 0;
        for (ManifestName name : r.listed().keySet()) { // oldest first
            if (name.compareTo(r.newest()) < 0 && !kept.contains(name)) {
                requireLease(store, lease);
                join(store.delete(name.key()));
                n++;
            }
        }
        return n;
    }

    private int abortStaleUploads() {
        Instant now = Instant.now();
        Instant staleBefore = now.minus(settings.uploadGrace());
        Map<String, Instant> seen = new HashMap<>();
        int n = 0;
        for (PendingUpload u : join(store.pendingUploads(ObjectNames.BLOBS))) {
            Instant first = uploadsFirstSeen.getOrDefault(u.uploadId(), now);
            Instant started = u.initiated().isBefore(first) ? u.initiated() : first;
            if (started.isBefore(staleBefore) && pins.beginDelete(u.key())) {
                try {
                    join(store.abortMultipart(u.key(), u.uploadId()));
                    n++;
                    continue;
                } finally {
                    pins.endDelete(u.key());
                }
            }
            seen.put(u.uploadId(), first);
        }
        uploadsFirstSeen.clear(); // forget uploads completed, aborted or gone
        uploadsFirstSeen.putAll(seen);
        return n;
    }

    /** Waits for the deletes sent; a failure of any ends the run (after all have answered). */
    private static int settle(List<CompletableFuture<Void>> inFlight) {
        int n = inFlight.size();
        try {
            join(CompletableFuture.allOf(inFlight.toArray(CompletableFuture[]::new)));
        } finally {
            inFlight.clear();
        }
        return n;
    }

    private static void requireLease(ObjectStore store, Lease lease) {
        if (!lease.isValid()) {
            throw new ObjectStoreException(ObjectStoreException.Kind.PRECONDITION_FAILED, "the lease of " + store.describe()
                    + " is no longer held: GC stops");
        }
    }
}
