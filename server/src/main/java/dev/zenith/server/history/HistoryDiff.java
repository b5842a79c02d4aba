package dev.zenith.server.history;

import dev.zenith.storage.Store;
import dev.zenith.storage.timeline.Timeline;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.storage.wal.BlockRef;
import dev.zenith.wal.Lsn;
import io.vertx.core.json.JsonObject;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SortedSet;
import java.util.TreeSet;

/**
 * What changed between two points of a storage's history: the blocks WAL touched after their common
 * ancestor on the way to each. Page granularity: a block counts once however often it changed.
 */
public final class HistoryDiff {
    private static final int PAGE_SIZE = 8192;

    private HistoryDiff() {
    }

    public static JsonObject between(Store store, Snapshot a, Snapshot b) {
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
        SortedSet<BlockRef> changed = new TreeSet<>();
        if (a.lsn().isAfter(commonLsn) || !a.timeline().equals(common)) {
            changed.addAll(store.changedBlocks(a.timeline(), commonLsn, a.lsn()));
        }
        if (b.lsn().isAfter(commonLsn) || !b.timeline().equals(common)) {
            changed.addAll(store.changedBlocks(b.timeline(), commonLsn, b.lsn()));
        }
        long relations = changed.stream().map(BlockRef::rel).distinct().count();
        return new JsonObject().put("from", a.fullName()).put("to", b.fullName())
                .put("common_timeline_id", common.toString()).put("common_lsn", commonLsn.toString())
                .put("pages_changed", changed.size()).put("bytes_changed", (long) changed.size() * PAGE_SIZE)
                .put("relation_forks_changed", relations);
    }

    /** Each timeline of the lineage, nearest first, with the last LSN of it visible from (timeline, lsn). */
    static Map<TimelineId, Lsn> visible(Store store, TimelineId timeline, Lsn lsn) {
        Map<TimelineId, Lsn> out = new LinkedHashMap<>();
        Timeline t = store.timeline(timeline).orElseThrow();
        Lsn upTo = lsn;
        out.put(t.id(), upTo);
        while (t.parent() != null) {
            upTo = Lsn.min(upTo, t.branchLsn());
            t = store.timeline(t.parent()).orElseThrow();
            out.put(t.id(), upTo);
        }
        return out;
    }
}
