package dev.zenith.storage.lmdb;

import dev.zenith.storage.image.Blobs;

import java.util.HexFormat;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Every evictable value of a store evicted into a map standing for an s3 storage's prefix (the server's s3 tests use
 * a real S3 server), which is then the store's segment source: each download runs {@code onDownload} first.
 */
public final class EvictedToMemory implements SegmentSource {
    private final Map<String, byte[]> segments = new ConcurrentHashMap<>();
    private final Runnable onDownload;

    private EvictedToMemory(Runnable onDownload) {
        this.onDownload = onDownload;
    }

    /** Evicts every value {@code cold} may evict, then reads them back from here. */
    public static EvictedToMemory evictAll(ColdValues cold, Runnable onDownload) {
        EvictedToMemory prefix = new EvictedToMemory(onDownload);
        for (ColdValues.Segment s : cold.coldest(Long.MAX_VALUE, 1 << 20)) {
            byte[] sha = Blobs.sha256(s.bytes());
            prefix.segments.put(HexFormat.of().formatHex(sha), s.bytes());
            cold.evict(s, sha);
        }
        cold.source(prefix);
        return prefix;
    }

    @Override
    public byte[] segment(byte[] sha256, int length) {
        onDownload.run();
        return segments.get(HexFormat.of().formatHex(sha256));
    }
}
