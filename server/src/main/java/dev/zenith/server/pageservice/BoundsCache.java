package dev.zenith.server.pageservice;

import dev.zenith.server.ingest.WalReceiver;
import dev.zenith.storage.Store;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.wal.Lsn;
import io.vertx.core.Vertx;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.BiPredicate;

/**
 * A timeline's {@link TimelineBounds}, read from the store at most once per new WAL and per second:
 * three LMDB reads per request cost more than the page itself. New WAL (the WAL receiver's event after
 * each LMDB commit) makes them stale at once; the retention horizon (garbage collection) and anything
 * else within a second. Whether a compute writes the timeline is asked only for fresh bounds (the cached ones
 * say it does, so that a request beyond the stored WAL asks again with fresh ones before it is refused).
 */
final class BoundsCache {
    private static final long MAX_AGE_NANOS = TimeUnit.SECONDS.toNanos(1);

    private record Key(Store store, TimelineId timeline) {
    }

    /** The bounds last read, and the WAL event count they were read at; a stream's target holds its timeline's. */
    static final class Entry {
        volatile long walEvents;
        volatile Cached cached;
    }

    private record Cached(Lsn horizon, Lsn end, Lsn stored, long readAt, long walEvents) {
    }

    private final Vertx vertx;
    private final BiPredicate<String, TimelineId> writers;
    private final Map<Key, Entry> entries = new ConcurrentHashMap<>();

    BoundsCache(Vertx vertx, BiPredicate<String, TimelineId> writers) {
        this.vertx = vertx;
        this.writers = writers;
    }

    /** Blocking when the store must be read. {@code growing} is not known here (true): ask {@link #fresh} before relying on it. */
    TimelineBounds of(PageTarget t) {
        return of(t, false);
    }

    /** Read from the store now (before deciding to wait for WAL: the event may not have been counted yet). */
    TimelineBounds fresh(PageTarget t) {
        return of(t, true);
    }

    /** The entry of a timeline, for a stream's {@link PageTarget} (so a request does not look it up). */
    Entry entry(Store store, TimelineId timeline) {
        return entries.computeIfAbsent(new Key(store, timeline), k -> follow(k.timeline()));
    }

    private TimelineBounds of(PageTarget t, boolean fresh) {
        Entry e = t.bounds();
        Cached c = e.cached;
        long events = e.walEvents;
        if (fresh || c == null || c.walEvents() != events || System.nanoTime() - c.readAt() > MAX_AGE_NANOS) {
            Lsn end = t.store().wal().lastRecordEnd(t.timeline()).orElse(Lsn.INVALID);
            Lsn stored = Lsn.max(end, t.store().wal().end(t.timeline()).orElse(end));
            c = new Cached(t.store().images().retentionHorizon(t.timeline()).orElse(null), end, stored, System.nanoTime(), events);
            e.cached = c;
        }
        // Whether a compute writes the timeline matters only to a request that would wait for WAL, and that one
        // asks again with fresh bounds: the others need not look through the computes.
        return new TimelineBounds(c.horizon(), c.end(), c.stored(), !fresh || writers.test(t.storageName(), t.timeline()));
    }

    private Entry follow(TimelineId timeline) {
        Entry e = new Entry();
        vertx.eventBus().<String>consumer(WalReceiver.walDurableAddress(timeline), m -> e.walEvents++);
        return e;
    }

    /** Forgets a detached storage's timelines (their followers stay registered; they only count). */
    void forget(Store store) {
        entries.keySet().removeIf(k -> k.store() == store);
    }
}
