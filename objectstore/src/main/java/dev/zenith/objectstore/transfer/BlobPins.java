package dev.zenith.objectstore.transfer;

import java.time.Duration;
import java.util.HashMap;
import java.util.Map;

/**
 * Which blobs of one prefix this process is about to list in a manifest, shared by its
 * {@link Uploader} and its GC so that GC never deletes a blob a manifest is about to name:
 *
 * <ul>
 *   <li>the uploader {@link #pin pins} a key before its "already there?" HEAD and keeps the pin
 *       until the manifest that lists the blob is written ({@code ManifestWriter} releases it), or
 *       the upload fails;</li>
 *   <li>GC deletes (or aborts an upload of) a key only between {@link #beginDelete} (refused while
 *       the key is pinned, or was released less than {@code grace} ago) and {@link #endDelete},
 *       which it calls once the server has answered the DELETE;</li>
 *   <li>a pin taken meanwhile waits for that answer, so the HEAD after it finds the blob gone and
 *       the uploader sends it again: a HEAD never sees a blob that an earlier DELETE still removes.</li>
 * </ul>
 *
 * A key released less than {@code grace} ago is kept too: GC decides from manifests it read before
 * it started deleting, and stops deleting once that reading is {@code grace} old, so a manifest
 * written after its reading (whose blobs were pinned until then) never loses a blob to it.
 */
public final class BlobPins {
    private final long graceNanos;
    private final Map<String, State> states = new HashMap<>();
    private long lastPrune = System.nanoTime();

    private static final class State {
        int pins;
        long releasedAt;
        boolean deleting;
    }

    public BlobPins(Duration grace) {
        if (grace.isNegative()) {
            throw new IllegalArgumentException("grace is not negative");
        }
        this.graceNanos = grace.toNanos();
    }

    public Duration grace() {
        return Duration.ofNanos(graceNanos);
    }

    /** Holds {@code key} against GC; waits while GC is deleting it (call from a worker thread). */
    public synchronized void pin(String key) {
        State s = states.computeIfAbsent(key, k -> new State());
        while (s.deleting) {
            try {
                wait();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while GC deleted " + key, e);
            }
            s = states.computeIfAbsent(key, k -> new State());
        }
        s.pins++;
    }

    /** Lets go of one pin of {@code key} (the manifest that lists it is written, or its upload failed). */
    public synchronized void release(String key) {
        State s = states.get(key);
        if (s != null && s.pins > 0) {
            s.pins--;
            s.releasedAt = System.nanoTime();
        }
    }

    /** Whether GC may delete {@code key} now; if so, pins of it wait until {@link #endDelete}. */
    public synchronized boolean beginDelete(String key) {
        prune();
        State s = states.get(key);
        if (s != null && (s.pins > 0 || s.deleting || System.nanoTime() - s.releasedAt < graceNanos)) {
            return false;
        }
        State d = new State();
        d.deleting = true;
        d.releasedAt = System.nanoTime() - graceNanos;
        states.put(key, d);
        return true;
    }

    /** GC's DELETE of {@code key} has been answered (whatever the answer). */
    public synchronized void endDelete(String key) {
        State s = states.get(key);
        if (s != null) {
            s.deleting = false;
            if (s.pins == 0) {
                states.remove(key);
            }
        }
        notifyAll();
    }

    /** Keys pinned now (for reports and tests). */
    public synchronized int pinned() {
        return (int) states.values().stream().filter(s -> s.pins > 0).count();
    }

    private void prune() {
        long now = System.nanoTime();
        if (now - lastPrune < graceNanos) {
            return;
        }
        lastPrune = now;
        states.values().removeIf(s -> s.pins == 0 && !s.deleting && now - s.releasedAt >= graceNanos);
    }
}
