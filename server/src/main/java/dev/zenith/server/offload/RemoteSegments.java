package dev.zenith.server.offload;

import dev.zenith.objectstore.ObjectStoreException;
import dev.zenith.objectstore.format.ContentHash;
import dev.zenith.objectstore.format.ObjectNames;
import dev.zenith.storage.failure.StoreCorruptException;
import dev.zenith.storage.failure.StoreException;
import dev.zenith.storage.lmdb.SegmentSource;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Supplier;

/**
 * Reads evicted values' segments back from an s3 storage's prefix: the object named by the segment's
 * SHA-256, downloaded and checked against it (a flipped byte is a {@link StoreCorruptException} naming the
 * object, never data), the few most recently read kept in memory for the reads that follow. Blocking;
 * called by whoever reads the store (never an event loop).
 */
final class RemoteSegments implements SegmentSource {
    /** Segments kept in memory: at most this many of {@link CacheBound#SEGMENT_BYTES} each. */
    private static final int KEPT = 6;
    private static final long WAIT_SECONDS = 120;

    private final Supplier<RemoteHome> home;
    private final Map<String, byte[]> recent = new LinkedHashMap<>(16, 0.75f, true);

    RemoteSegments(Supplier<RemoteHome> home) {
        this.home = home;
    }

    @Override
    public byte[] held(byte[] sha256, int length) {
        synchronized (recent) {
            return recent.get(ObjectNames.blob(ContentHash.of(sha256)));
        }
    }

    @Override
    public byte[] segment(byte[] sha256, int length) {
        byte[] kept = held(sha256, length);
        if (kept != null) {
            return kept;
        }
        ContentHash hash = ContentHash.of(sha256);
        String key = ObjectNames.blob(hash);
        RemoteHome h = home.get();
        if (h == null) {
            throw new StoreException("segment " + key + " was evicted from the local cache, and S3 cannot be reached"
                    + " yet to read it back");
        }
        byte[] bytes;
        try {
            bytes = Await.result(h.downloader.get(key, hash, length), WAIT_SECONDS);
        } catch (ObjectStoreException e) {
            if (e.kind() == ObjectStoreException.Kind.CORRUPT) {
                throw new StoreCorruptException("the evicted segment " + key + " in " + h.remote + " is damaged: "
                        + e.getMessage() + "; nothing of it is used");
            }
            throw new StoreException("cannot read the evicted segment " + key + " back from " + h.remote + ": "
                    + e.getMessage(), e);
        }
        synchronized (recent) {
            recent.put(key, bytes);
            while (recent.size() > KEPT) {
                recent.remove(recent.keySet().iterator().next());
            }
        }
        return bytes;
    }
}
