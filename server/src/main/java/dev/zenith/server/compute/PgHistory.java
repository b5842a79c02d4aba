package dev.zenith.server.compute;

import dev.zenith.server.domain.ConflictException;
import dev.zenith.server.domain.InvalidRequestException;
import dev.zenith.server.history.HistoryDiff;
import dev.zenith.server.history.HistoryPoint;
import dev.zenith.server.history.HistoryPoints;
import dev.zenith.server.history.PgLog;
import dev.zenith.server.history.Snapshot;
import dev.zenith.server.history.SnapshotCatalog;
import dev.zenith.server.history.StoredTimeline;
import dev.zenith.server.storages.StorageRegistry;
import dev.zenith.storage.Store;
import dev.zenith.storage.timeline.TimelineId;

import java.io.IOException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * The history of pgs: snapshots taken and destroyed, diffs between snapshots, a pg's log, the timeline
 * tree. Reads wait for a pg's acknowledged WAL to be readable first. Blocking.
 */
final class PgHistory {
    private final StorageRegistry storages;
    private final SnapshotCatalog snapshots;
    private final PgRegistry registry;
    private final SnapshotCheckpoint checkpoints;

    PgHistory(StorageRegistry storages, SnapshotCatalog snapshots, PgRegistry registry, SnapshotCheckpoint checkpoints) {
        this.storages = storages;
        this.snapshots = snapshots;
        this.registry = registry;
        this.checkpoints = checkpoints;
    }

    /**
     * A snapshot at an LSN, a time, or now; now, of a running primary, first has the compute checkpoint so the
     * snapshot has an anchor of its own ({@link SnapshotCheckpoint}). Called under the management lock.
     */
    ComputeManager.CreatedSnapshot createSnapshot(String fullName, String lsn, String time) throws IOException {
        String[] parts = SnapshotCatalog.parseName(fullName, false);
        Compute c = registry.require(parts[0]);
        snapshots.requireNew(fullName); // before a checkpoint is spent on it
        Store store = registry.storeOf(c.record);
        Optional<String> unanchored = Optional.empty();
        if (lsn == null && time == null) {
            unanchored = checkpoints.anchorPresent(c, store); // returns caught up, past its checkpoint if it took one
        } else {
            c.catchUp();
        }
        if (registry.require(parts[0]) != c) { // destroyed (and made again) while the lock was let go for the checkpoint
            throw new ConflictException("pg '" + parts[0] + "' was destroyed while its snapshot was taken");
        }
        HistoryPoint p = HistoryPoints.resolve(store, c.record.timeline(), lsn, time);
        String note = Stream.of(p.note(), unanchored.orElse(null)).filter(Objects::nonNull).reduce((a, b) -> a + "; " + b)
                .orElse(null);
        return new ComputeManager.CreatedSnapshot(snapshots.create(fullName, false, c.record.storageName(), p), note);
    }

    Snapshot destroySnapshot(String fullName) {
        Snapshot s = snapshots.get(fullName);
        Map<TimelineId, List<String>> inUse = registry.onStorage(s.storageName()).stream()
                .collect(Collectors.groupingBy(c -> c.record.timeline(), Collectors.mapping(Compute::name, Collectors.toList())));
        return snapshots.destroy(fullName, inUse);
    }

    HistoryDiff.Diff diffSnapshots(String from, String to) {
        Snapshot a = snapshots.get(from);
        Snapshot b = snapshots.get(to);
        if (!a.storageName().equals(b.storageName())) {
            throw new InvalidRequestException("snapshots '" + from + "' and '" + to + "' are on different storages");
        }
        return HistoryDiff.between(storages.get(a.storageName()).store(), a, b);
    }

    /** A pg's history, newest first (see {@link PgLog}); blocking. */
    PgLog.Page log(String name, Instant since, Instant until, int limit) {
        Compute c = registry.require(name);
        c.catchUp();
        String storage = c.record.storageName();
        Map<String, TimelineId> pgTimelines = new HashMap<>();
        registry.onStorage(storage).forEach(o -> pgTimelines.put(o.name(), o.record.timeline()));
        List<Snapshot> ofStorage = snapshots.list().stream().filter(sn -> sn.storageName().equals(storage)).toList();
        return PgLog.of(new PgLog.Subject(name, c.record.timeline(), storages.get(storage).store(), ofStorage, pgTimelines),
                since, until, limit);
    }

    /** Every timeline of every available storage: its parent and branch point (for zenith tree); blocking. */
    List<StoredTimeline> timelines() {
        List<StoredTimeline> out = new ArrayList<>();
        for (StorageRegistry.Storage s : storages.list()) {
            for (var t : s.store().timelines().all()) {
                out.add(new StoredTimeline(s.name(), t));
            }
        }
        return out;
    }
}
