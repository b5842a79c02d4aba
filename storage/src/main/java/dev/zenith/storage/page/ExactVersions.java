package dev.zenith.storage.page;

import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.storage.wal.BlockRef;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.RelTag;

import java.util.Map;
import java.util.OptionalLong;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * What GetPage reads proved about a block at a point of a timeline, kept so that the next read of it there is one
 * LMDB get instead of the lookups that proved it (the fork's size, the newest version by a cursor, the block-change
 * index): which stored version is the block's page there, or that no version is needed (beyond the fork's end, or no
 * such fork). The page at a point whose WAL is stored never changes, nor does a version's content under its key, so a
 * fact never goes stale; a version freed since (garbage collection) is not found, and the read goes the long way
 * again (which refuses what lies below the horizon). Only facts are kept: a block that needs a redo run is not.
 * Bounded: the {@link #POINTS} points used last, {@link #FACTS_PER_POINT} blocks each (about 100 bytes a fact).
 * Thread-safe; lookups take no lock.
 */
final class ExactVersions {
    static final int POINTS = 4;
    static final int FACTS_PER_POINT = 32_768;

    /**
     * A block's page at a point: the version stored under ({@code timeline}, {@code lsn}), or none needed
     * ({@code timeline} null); {@code nblocks} and {@code exact} as the read that proved it answered them.
     */
    record Fact(OptionalLong nblocks, TimelineId timeline, Lsn lsn, boolean exact) {
        boolean hasVersion() {
            return timeline != null;
        }
    }

    /** One point's facts, and when it was used last (which point a new one replaces). */
    private static final class Point {
        final TimelineId timeline;
        final Lsn lsn;
        final Map<BlockRef, Fact> facts = new ConcurrentHashMap<>();
        volatile long used;

        Point(TimelineId timeline, Lsn lsn) {
            this.timeline = timeline;
            this.lsn = lsn;
        }

        boolean is(TimelineId t, Lsn l) {
            return lsn.equals(l) && timeline.equals(t);
        }
    }

    private final AtomicReferenceArray<Point> points = new AtomicReferenceArray<>(POINTS);

    /** The fact about the block at the point, or null. */
    Fact get(TimelineId timeline, Lsn at, RelTag rel, int block) {
        Point p = find(timeline, at);
        if (p == null) {
            return null;
        }
        Fact f = p.facts.get(new BlockRef(rel, block));
        if (f != null) {
            p.used = System.nanoTime();
        }
        return f;
    }

    void put(TimelineId timeline, Lsn at, RelTag rel, int block, Fact fact) {
        Point p = find(timeline, at);
        if (p == null) {
            p = add(timeline, at);
        }
        if (p.facts.size() < FACTS_PER_POINT) {
            p.facts.put(new BlockRef(rel, block), fact);
        }
    }

    /** Forgets a fact whose version was not found (freed since). */
    void forget(TimelineId timeline, Lsn at, RelTag rel, int block) {
        Point p = find(timeline, at);
        if (p != null) {
            p.facts.remove(new BlockRef(rel, block));
        }
    }

    private Point find(TimelineId timeline, Lsn at) {
        for (int i = 0; i < POINTS; i++) {
            Point p = points.get(i);
            if (p != null && p.is(timeline, at)) {
                return p;
            }
        }
        return null;
    }

    /** A new point in the place of the one used longest ago (readers may still find that one for a moment). */
    private synchronized Point add(TimelineId timeline, Lsn at) {
        Point existing = find(timeline, at);
        if (existing != null) {
            return existing;
        }
        int oldest = 0;
        for (int i = 0; i < POINTS; i++) {
            Point q = points.get(i);
            if (q == null) {
                oldest = i;
                break;
            }
            if (q.used - points.get(oldest).used < 0) {
                oldest = i;
            }
        }
        Point p = new Point(timeline, at);
        p.used = System.nanoTime();
        points.set(oldest, p);
        return p;
    }
}
