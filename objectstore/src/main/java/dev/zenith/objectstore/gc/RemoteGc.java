package dev.zenith.objectstore.gc;

import static dev.zenith.objectstore.Futures.join;

import dev.zenith.objectstore.ObjectInfo;
import dev.zenith.objectstore.ObjectStore;
import dev.zenith.objectstore.PendingUpload;
import dev.zenith.objectstore.StoredBytes;
import dev.zenith.objectstore.catalogue.CatalogueNames;
import dev.zenith.objectstore.catalogue.SnapshotManifestCodec;
import dev.zenith.objectstore.format.Manifest;
import dev.zenith.objectstore.format.ObjectNames;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.logging.Logger;

/**
 * GC of a shared remote (snapshot push/pull), which several daemons use with no lease: deletes the blobs no snapshot
 * version lists (what interrupted or cancelled pushes left) once they are older than {@code grace} by the server's
 * clock, and multipart uploads of blobs started before that. Every version of every name counts, the replaced ones
 * too, so a blob stays as long as any manifest names it. A push under way ({@link ActivityMarks}) is never harmed:
 * while one runs this deletes nothing, and a push that starts meanwhile waits for it. Blocking (a worker thread).
 */
public final class RemoteGc {
    private static final Logger LOG = Logger.getLogger(RemoteGc.class.getName());
    private static final int DELETES_IN_FLIGHT = 16;

    /**
     * What one run did: {@code pushesUnderWay} > 0 means it deleted nothing because pushes ran; {@code cutShort}, that
     * it stopped early because its own mark lapsed (the next run continues).
     */
    public record Report(int pushesUnderWay, int blobsDeleted, long bytesFreed, int blobsKeptYoung, int blobsReferenced,
                         int uploadsAborted, boolean cutShort) {
    }

    private final ObjectStore store;
    private final String holder;

    public RemoteGc(ObjectStore store, String holder) {
        this.store = store;
        this.holder = holder;
    }

    public Report run(Duration grace) {
        if (grace.isNegative()) {
            throw new IllegalArgumentException("the grace period is not negative");
        }
        try (ActivityMarks.Mark mark = ActivityMarks.begin(store, ActivityMarks.Kind.GC, holder)) {
            List<ObjectInfo> pushes = ActivityMarks.live(store, ActivityMarks.Kind.PUSH, mark);
            if (!pushes.isEmpty()) {
                Report r = new Report(pushes.size(), 0, 0, 0, 0, 0, false);
                LOG.info("GC of " + store.describe() + ": nothing deleted, pushes under way: " + pushes.size());
                return r;
            }
            Instant oldFrom = mark.serverTime().minus(grace);
            Set<String> referenced = referenced();
            List<ObjectInfo> garbage = new ArrayList<>();
            int young = 0;
            int kept = 0;
            for (ObjectInfo o : join(store.list(ObjectNames.BLOBS))) {
                if (ObjectNames.blobHash(o.key()).isEmpty()) {
                    continue; // not ours to judge
                }
                if (referenced.contains(o.key())) {
                    kept++;
                } else if (o.lastModified().isBefore(oldFrom)) {
                    garbage.add(o);
                } else {
                    young++;
                }
            }
            int deleted = 0;
            long freed = 0;
            boolean cutShort = false;
            for (int from = 0; from < garbage.size(); from += DELETES_IN_FLIGHT) {
                if (mark.lapsed()) { // a push may have taken this GC for dead and begun
                    cutShort = true;
                    break;
                }
                List<ObjectInfo> batch = garbage.subList(from, Math.min(garbage.size(), from + DELETES_IN_FLIGHT));
                join(CompletableFuture.allOf(batch.stream().map(o -> store.delete(o.key())).toArray(CompletableFuture[]::new)));
                deleted += batch.size();
                freed += batch.stream().mapToLong(ObjectInfo::size).sum();
            }
            int aborted = 0;
            for (PendingUpload u : join(store.pendingUploads(ObjectNames.BLOBS))) {
                if (!cutShort && !mark.lapsed() && u.initiated().isBefore(oldFrom)) {
                    join(store.abortMultipart(u.key(), u.uploadId()));
                    aborted++;
                }
            }
            Report r = new Report(0, deleted, freed, young, kept, aborted, cutShort);
            LOG.info("GC of " + store.describe() + ": " + r);
            return r;
        }
    }

    /** The blobs every version of every snapshot name lists. */
    private Set<String> referenced() {
        Set<String> keys = new HashSet<>();
        for (ObjectInfo o : join(store.list(CatalogueNames.SNAPSHOTS))) {
            if (CatalogueNames.parse(o.key()).isEmpty()) {
                continue;
            }
            Optional<StoredBytes> stored = join(store.get(o.key()));
            stored.ifPresent(s -> SnapshotManifestCodec.decode(o.key(), s.bytes()).objects().stream()
                    .map(Manifest.Entry::key).forEach(keys::add));
        }
        return keys;
    }
}
