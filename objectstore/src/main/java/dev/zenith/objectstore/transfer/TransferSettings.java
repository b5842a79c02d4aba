package dev.zenith.objectstore.transfer;

/**
 * Bounds of a transfer. Memory held by an uploader is at most
 * {@code (parallelObjects + partsInFlight) * partSize}; requests in flight at most
 * {@code parallelObjects + partsInFlight}.
 *
 * @param parallelObjects objects hashed, compressed and sent at once (one worker thread each)
 * @param partSize        a stored object larger than this goes up in parts of this size (at least 5 MiB)
 * @param partsInFlight   parts being sent at once, over all objects
 * @param level           zstd level
 * @param backgroundStart run first on each thread of an uploader's background work (to lower its CPU priority);
 *                        nothing by default
 */
public record TransferSettings(int parallelObjects, int partSize, int partsInFlight, int level, Backoff backoff,
                               boolean retryDenied, Runnable backgroundStart) {
    public static final int MIN_PART = 5 << 20;

    public TransferSettings {
        if (parallelObjects < 1 || partsInFlight < 1 || partSize < MIN_PART) {
            throw new IllegalArgumentException("need parallelObjects >= 1, partsInFlight >= 1, partSize >= 5 MiB");
        }
    }

    /** 4 objects, 8 MiB parts, 8 parts in flight (at most 96 MiB of buffers), zstd 1, retries until closed. */
    public static TransferSettings defaults() {
        return new TransferSettings(4, 8 << 20, 8, 1, Backoff.untilClosed(), true, () -> { });
    }

    public TransferSettings withBackoff(Backoff b, boolean retryDenied) {
        return new TransferSettings(parallelObjects, partSize, partsInFlight, level, b, retryDenied, backgroundStart);
    }

    public TransferSettings withParallelism(int parallelObjects, int partSize, int partsInFlight) {
        return new TransferSettings(parallelObjects, partSize, partsInFlight, level, backoff, retryDenied, backgroundStart);
    }

    public TransferSettings withBackgroundStart(Runnable start) {
        return new TransferSettings(parallelObjects, partSize, partsInFlight, level, backoff, retryDenied, start);
    }
}
