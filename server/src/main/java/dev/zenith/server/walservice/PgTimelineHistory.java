package dev.zenith.server.walservice;

import dev.zenith.storage.Store;
import dev.zenith.storage.timeline.Timeline;
import dev.zenith.wal.Lsn;

import java.util.Optional;
import java.util.TreeMap;

/**
 * PostgreSQL timelines along a store timeline's lineage: a promotion branches the store timeline at
 * the switch point onto a new PostgreSQL timeline and keeps the history file PostgreSQL wrote
 * (meta key {@code history/<timeline id>}, written by the compute manager). Blocking (reads the store).
 */
final class PgTimelineHistory {
    /** Same key ComputeDirectories uses for a promotion's history file. */
    private static final String HISTORY_KEY = "history/";

    /** Where the lineage left PostgreSQL timeline {@code from}: the next timeline and its start. */
    record Switch(int from, int next, Lsn at) {
    }

    private PgTimelineHistory() {
    }

    /** Every history file in the lineage, by PostgreSQL timeline. */
    static TreeMap<Integer, byte[]> historyFiles(Store store, Timeline timeline) {
        TreeMap<Integer, byte[]> out = new TreeMap<>();
        for (Timeline t = timeline; t != null; t = parent(store, t)) {
            int tli = t.pgTimeline();
            store.getMeta(HISTORY_KEY + t.id()).ifPresent(h -> out.putIfAbsent(tli, h));
        }
        return out;
    }

    /** The switch away from {@code pgTimeline}, when it is an earlier PostgreSQL timeline of the lineage. */
    static Optional<Switch> switchFrom(Store store, Timeline timeline, int pgTimeline) {
        for (Timeline t = timeline; t != null; ) {
            Timeline p = parent(store, t);
            if (p != null && p.pgTimeline() == pgTimeline && t.pgTimeline() != pgTimeline) {
                return Optional.of(new Switch(pgTimeline, t.pgTimeline(), t.branchLsn()));
            }
            t = p;
        }
        return Optional.empty();
    }

    private static Timeline parent(Store store, Timeline t) {
        return t.parentId().flatMap(store::timeline).orElse(null);
    }
}
