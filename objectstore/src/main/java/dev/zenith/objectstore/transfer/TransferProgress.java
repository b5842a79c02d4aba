package dev.zenith.objectstore.transfer;

import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * What a transfer has done and what it still owes, for {@code storage show} and the log: content
 * bytes asked for and done (sent, or found already there), stored bytes actually sent, retries,
 * the last error, and the lag (how long the oldest unfinished object has waited). Thread-safe.
 */
public final class TransferProgress {
    private final AtomicLong totalBytes = new AtomicLong();
    private final AtomicLong doneBytes = new AtomicLong();
    private final AtomicLong skippedBytes = new AtomicLong();
    private final AtomicLong sentBytes = new AtomicLong();
    private final AtomicLong totalObjects = new AtomicLong();
    private final AtomicLong doneObjects = new AtomicLong();
    private final AtomicLong retries = new AtomicLong();
    private final AtomicLong ids = new AtomicLong();
    private final AtomicReference<String> lastError = new AtomicReference<>();
    private final AtomicReference<Instant> lastErrorAt = new AtomicReference<>();
    private final Map<Long, Instant> pending = new ConcurrentHashMap<>();

    /** A point-in-time copy. {@code lag} is zero when nothing is pending. */
    public record Snapshot(long totalBytes, long doneBytes, long skippedBytes, long sentBytes, long totalObjects,
                           long doneObjects, long retries, Duration lag, String lastError, Instant lastErrorAt) {
        public long pendingBytes() {
            return totalBytes - doneBytes;
        }
    }

    /** An object is queued; the answer identifies it for {@link #finished} and {@link #abandoned}. */
    long started(long contentBytes) {
        long id = ids.incrementAndGet();
        pending.put(id, Instant.now());
        totalBytes.addAndGet(contentBytes);
        totalObjects.incrementAndGet();
        return id;
    }

    void finished(long id, long contentBytes, boolean skipped) {
        pending.remove(id);
        doneBytes.addAndGet(contentBytes);
        doneObjects.incrementAndGet();
        if (skipped) {
            skippedBytes.addAndGet(contentBytes);
        }
    }

    /** Given up (closed, or a permanent error): no longer owed. */
    void abandoned(long id, long contentBytes) {
        pending.remove(id);
        totalBytes.addAndGet(-contentBytes);
        totalObjects.decrementAndGet();
    }

    void sent(long storedBytes) {
        sentBytes.addAndGet(storedBytes);
    }

    void retried(String error) {
        retries.incrementAndGet();
        lastError.set(error);
        lastErrorAt.set(Instant.now());
    }

    public Snapshot snapshot() {
        Instant oldest = pending.values().stream().min(Instant::compareTo).orElse(null);
        Duration lag = oldest == null ? Duration.ZERO : Duration.between(oldest, Instant.now());
        return new Snapshot(totalBytes.get(), doneBytes.get(), skippedBytes.get(), sentBytes.get(), totalObjects.get(),
                doneObjects.get(), retries.get(), lag, lastError.get(), lastErrorAt.get());
    }
}
