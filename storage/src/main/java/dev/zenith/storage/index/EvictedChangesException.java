package dev.zenith.storage.index;

/**
 * The index cannot tell above its watermark because the packed block-change entries there were evicted to S3 (and
 * are not downloaded inside a read transaction): catching the index up answers. Apart from an index merely behind,
 * which a latest read leaves to the WAL decoded since its base without catching up.
 */
final class EvictedChangesException extends IndexNotReadyException {
    EvictedChangesException(String message) {
        super(message);
    }
}
