package dev.zenith.storage.gc;

import dev.zenith.storage.timeline.Timeline;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.storage.wal.WalLog;
import dev.zenith.wal.Lsn;

import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Which timelines are in use and which points each must keep readable: the caller's, every timeline's end,
 * its children's branch points, each pushed up to the timeline that holds its data.
 */
final class RetainedPoints {
    private RetainedPoints() {
    }

    /** Roots, the timelines the caller names, and their ancestors. */
    static Set<TimelineId> inUse(Map<TimelineId, Timeline> all, Set<TimelineId> named) {
        Set<TimelineId> used = new HashSet<>();
        for (Timeline t : all.values()) {
            if (t.parent() == null) {
                used.add(t.id());
            }
        }
        for (TimelineId id : named) {
            Timeline t = all.get(id);
            while (t != null && used.add(t.id())) { // up to the first ancestor already counted
                t = t.parent() == null ? null : all.get(t.parent());
            }
        }
        return used;
    }


    /** Every timeline's points: the caller's, its end, its children's branch points; pushed up to the owner. */
    static Map<TimelineId, Set<Lsn>> keepPoints(WalLog wal, Map<TimelineId, Timeline> all, Set<TimelineId> inUse,
                                                Map<TimelineId, ? extends Collection<Lsn>> retained) {
        Map<TimelineId, Set<Lsn>> keep = new HashMap<>();
        for (Timeline t : all.values()) {
            if (!inUse.contains(t.id())) {
                continue;
            }
            Collection<Lsn> given = retained.get(t.id());
            List<Lsn> points = new ArrayList<>(given == null ? List.of() : given);
            wal.lastRecordEnd(t.id()).ifPresent(points::add);
            if (t.parent() != null) {
                points.add(t.branchLsn());
            }
            for (Lsn p : points) {
                keep.computeIfAbsent(ownerOf(all, t, p).id(), k -> new HashSet<>()).add(p);
            }
            keep.computeIfAbsent(t.id(), k -> new HashSet<>());
        }
        return keep;
    }

    /** The timeline whose own history holds {@code p}: at or below a branch point, the data lives in the parent. */
    static Timeline ownerOf(Map<TimelineId, Timeline> all, Timeline t, Lsn p) {
        Timeline owner = t;
        while (owner.parent() != null && !p.isAfter(owner.branchLsn())) {
            owner = all.get(owner.parent());
        }
        return owner;
    }

    /** The timelines not in use, each after its descendants (a child never outlives the parent it names). */
    static List<TimelineId> unusedDeepestFirst(Map<TimelineId, Timeline> all, Set<TimelineId> inUse) {
        Map<TimelineId, Integer> depth = new HashMap<>();
        for (Timeline t : all.values()) {
            if (inUse.contains(t.id())) {
                continue;
            }
            int d = 0;
            for (Timeline a = t; a != null && a.parent() != null; a = all.get(a.parent())) {
                d++;
            }
            depth.put(t.id(), d);
        }
        List<TimelineId> out = new ArrayList<>(depth.keySet());
        out.sort(Comparator.comparing((TimelineId id) -> depth.get(id)).reversed());
        return out;
    }
}
