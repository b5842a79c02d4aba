package dev.zenith.storage.lmdb;

/**
 * Where evicted values are read back from (an s3 storage's prefix): the segment object whose content has
 * SHA-256 {@code sha256} and {@code length} bytes, whole, its hash checked. Blocking; never an event loop.
 */
@FunctionalInterface
public interface SegmentSource {
    byte[] segment(byte[] sha256, int length);

    /** The segment if the source has it at hand (in memory: no download, no wait), else null. */
    default byte[] held(byte[] sha256, int length) {
        return null;
    }
}
