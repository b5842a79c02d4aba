package dev.zenith.server.offload;

import java.time.Duration;

/**
 * {@code offload} in conf/zenith.json: {@code interval_ms} (1000) between WAL uploads, {@code piece_bytes}
 * (16 MiB) per WAL object, {@code base_interval_ms} (10 s) at least between bases taken for changes other
 * than WAL (ten times the last base's duration when longer: {@code StorageOffload#baseSpacingNanos}), {@code stop_wait_ms} (10 min) a clean stop waits for S3 at most; S3's garbage (objects no manifest
 * among the newest {@code keep_manifests} (128) lists, older than {@code gc_grace_ms} (10 min)) is deleted after a
 * base at most every {@code gc_interval_ms} (10 min). {@code cache_bytes} (0: no bound) bounds the local store: above
 * it, WAL the prefix holds as WAL pieces is evicted from LMDB and read back from S3 when needed.
 */
public record OffloadSettings(Duration interval, int pieceBytes, Duration baseInterval, Duration stopWait,
                              Duration gcInterval, Duration gcGrace, int keepManifests, long cacheBytes) {
    /**
     * The smallest cache bound, the smallest tested (S3SmallCacheBoundTest: a pg created, a database four times the
     * bound with pg start, a branch and queries): what is never evicted (the page index, the pointers of evicted values,
     * WAL S3 does not hold yet, documents and timelines; 9.8 MB at 12 MiB with a 55 MB database) plus one write's room
     * (an eighth of the bound) must fit under the admission limit (90%).
     */
    public static final long SMALLEST_CACHE_BYTES = 16L << 20;

    public OffloadSettings {
        String refused = refusedCacheBytes(cacheBytes);
        if (refused != null) {
            throw new IllegalArgumentException("offload.cache_bytes: " + refused);
        }
    }

    /** Why {@code bytes} cannot be a cache bound, or null when it can (0: no bound, or at least the smallest). */
    public static String refusedCacheBytes(long bytes) {
        if (bytes == 0 || bytes >= SMALLEST_CACHE_BYTES) {
            return null;
        }
        return "a cache bound is 0 (no bound) or at least " + (SMALLEST_CACHE_BYTES >> 20) + " MiB (" + SMALLEST_CACHE_BYTES
                + " bytes), got " + bytes + ": below that, the page index and what else is never evicted leave no room"
                + " for the next write";
    }

    /** Whether the local store is bounded (WAL pieces are then kept in S3 beside the bases, for reading back). */
    public boolean bounded() {
        return cacheBytes > 0;
    }

    /** These settings with a storage's own cache bound. */
    public OffloadSettings withCacheBytes(long bytes) {
        return new OffloadSettings(interval, pieceBytes, baseInterval, stopWait, gcInterval, gcGrace, keepManifests, bytes);
    }
}
