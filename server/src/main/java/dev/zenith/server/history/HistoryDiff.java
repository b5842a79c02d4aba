package dev.zenith.server.history;

import dev.zenith.storage.Store;
import dev.zenith.storage.timeline.Timeline;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.storage.wal.BlockChanges;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.RelTag;
import dev.zenith.wal.segment.WalGeometry;

import java.util.BitSet;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * What changed between two points of a storage's history: the blocks WAL touched after their common
 * ancestor on the way to each. Page granularity: a block counts once however often it changed.
 */
public final class HistoryDiff {

    private HistoryDiff() {
    }

    /** Two snapshots' difference: their common past, and the pages and relation forks changed since on either way. */
    public record Diff(String from, String to, TimelineId commonTimeline, Lsn commonLsn, long pagesChanged,
                       long relationForksChanged) {
        public long bytesChanged() {
            return pagesChanged * WalGeometry.BLCKSZ;
        }
    }

    public static Diff between(Store store, Snapshot a, Snapshot b) {
        Map<TimelineId, Lsn> seenFromA = visible(store, a.timeline(), a.lsn());
        Map<TimelineId, Lsn> seenFromB = visible(store, b.timeline(), b.lsn());
        // The deepest timeline both see, up to the smaller of the two positions: their common past.
        TimelineId common = null;
        Lsn commonLsn = null;
        for (Map.Entry<TimelineId, Lsn> e : seenFromA.entrySet()) {
            Lsn other = seenFromB.get(e.getKey());
            if (other != null) {
                common = e.getKey();
                commonLsn = Lsn.min(e.getValue(), other);
                break;
            }
        }
        if (common == null) {
            throw new IllegalStateException("snapshots " + a.fullName() + " and " + b.fullName() + " share no history");
        }
        ChangedPages changed = new ChangedPages();
        if (a.lsn().isAfter(commonLsn) || !a.timeline().equals(common)) {
            store.changes().forEachChange(a.timeline(), commonLsn, a.lsn(), changed);
        }
        if (b.lsn().isAfter(commonLsn) || !b.timeline().equals(common)) {
            store.changes().forEachChange(b.timeline(), commonLsn, b.lsn(), changed);
        }
        return new Diff(a.fullName(), b.fullName(), common, commonLsn, changed.pages(), changed.relationForks());
    }

    /**
     * Distinct changed pages as a bit per block of each relation fork: a diff of a whole large database
     * takes a bit per page of heap (an object per page took ~200 bytes, which a bounded heap cannot give).
     */
    private static final class ChangedPages implements BlockChanges.Visitor {
        /** Blocks 0..2^31-1 and 2^31..2^32-1 (a relation past 16 TB) of a fork, each in a set of its own. */
        private record Half(RelTag rel, boolean upper) {
        }

        private final Map<Half, BitSet> blocks = new HashMap<>();

        @Override
        public void visit(Lsn recordLsn, RelTag rel, int block) {
            blocks.computeIfAbsent(new Half(rel, block < 0), k -> new BitSet()).set(block & Integer.MAX_VALUE);
        }

        long pages() {
            return blocks.values().stream().mapToLong(BitSet::cardinality).sum();
        }

        long relationForks() {
            return blocks.keySet().stream().map(Half::rel).distinct().count();
        }
    }

    /** Each timeline of the lineage, nearest first, with the last LSN of it visible from (timeline, lsn). */
    static Map<TimelineId, Lsn> visible(Store store, TimelineId timeline, Lsn lsn) {
        Map<TimelineId, Lsn> out = new LinkedHashMap<>();
        Timeline t = store.timelines().get(timeline).orElseThrow();
        Lsn upTo = lsn;
        out.put(t.id(), upTo);
        while (t.parent() != null) {
            upTo = Lsn.min(upTo, t.branchLsn());
            t = store.timelines().get(t.parent()).orElseThrow();
            out.put(t.id(), upTo);
        }
        return out;
    }
}
