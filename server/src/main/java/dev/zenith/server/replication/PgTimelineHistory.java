package dev.zenith.server.replication;

import dev.zenith.storage.Store;
import dev.zenith.storage.timeline.PgTimelines;
import dev.zenith.storage.timeline.Timeline;
import dev.zenith.wal.Lsn;

import java.util.List;
import java.util.Optional;
import java.util.TreeMap;

/**
 * PostgreSQL timelines along a store timeline's lineage, as the replication protocol serves them
 * (see {@link PgTimelines}). Blocking (reads the store).
 */
final class PgTimelineHistory {
    /** Where the lineage left PostgreSQL timeline {@code from}: the next timeline and its start. */
    record Switch(int from, int next, Lsn at) {
    }

    private PgTimelineHistory() {
    }

    /** Every history file in the lineage, by PostgreSQL timeline. */
    static TreeMap<Integer, byte[]> historyFiles(Store store, Timeline timeline) {
        return store.pgTimelines().historyFiles(timeline.id());
    }

    /**
     * The history file TIMELINE_HISTORY answers for {@code pgTimeline}: the lineage's; for a number another
     * history of the storage has or had (its branch may be destroyed and collected since), a placeholder ({@link PgTimelines#placeholderHistory}), since a standby
     * fetches every number between its timeline and the newest; none for a number never given.
     */
    static Optional<byte[]> historyFile(Store store, Timeline timeline, int pgTimeline) {
        byte[] own = historyFiles(store, timeline).get(pgTimeline);
        if (own != null) {
            return Optional.of(own);
        }
        boolean inLineage = store.pgTimelines().entries(timeline.id()).stream().anyMatch(e -> e.tli() == pgTimeline);
        return !inLineage && store.pgTimelines().given(pgTimeline) ? Optional.of(PgTimelines.placeholderHistory(pgTimeline))
                : Optional.empty();
    }

    /** The switch away from {@code pgTimeline}, when it is an earlier PostgreSQL timeline of the lineage. */
    static Optional<Switch> switchFrom(Store store, Timeline timeline, int pgTimeline) {
        List<PgTimelines.Entry> entries = store.pgTimelines().entries(timeline.id());
        for (int i = 0; i + 1 < entries.size(); i++) {
            if (entries.get(i).tli() == pgTimeline) {
                PgTimelines.Entry next = entries.get(i + 1);
                return Optional.of(new Switch(pgTimeline, next.tli(), next.begin()));
            }
        }
        return Optional.empty();
    }
}
