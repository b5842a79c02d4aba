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
    /** Whether the local store is bounded (WAL pieces are then kept in S3 beside the bases, for reading back). */
    public boolean bounded() {
        return cacheBytes > 0;
    }

    /** These settings with a storage's own cache bound. */
    public OffloadSettings withCacheBytes(long bytes) {
        return new OffloadSettings(interval, pieceBytes, baseInterval, stopWait, gcInterval, gcGrace, keepManifests, bytes);
    }
}
