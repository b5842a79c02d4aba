package dev.zenith.server.compute;

import dev.zenith.server.history.Snapshot;
import dev.zenith.server.history.SnapshotCatalog;
import dev.zenith.server.jobs.Management;
import dev.zenith.server.jobs.Progress;
import dev.zenith.server.storages.StorageRegistry;
import dev.zenith.server.replication.FollowedTimelines;
import dev.zenith.server.replication.ReplicationSlots;
import dev.zenith.storage.Store;
import dev.zenith.storage.gc.GarbageCollector;
import dev.zenith.storage.gc.GcStats;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.wal.Lsn;

import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Predicate;
import java.util.logging.Logger;

/**
 * What history a storage keeps: the points garbage collection must leave readable (the PITR window,
 * snapshots, replication slots, followed timelines, every pg's timeline, on an s3 storage the WAL its prefix
 * has not received), the collection itself, and what each snapshot alone keeps alive (a collection's dry run
 * without it). Blocking.
 */
public final class RetentionPolicy {
    private static final Logger LOG = Logger.getLogger(RetentionPolicy.class.getName());

    private final StorageRegistry storages;
    private final SnapshotCatalog snapshots;
    private final PgRegistry registry;
    private final FollowedTimelines followed;
    private final Management management;
    private final RunningCollections running;
    /**
     * Retained points keep their bases on pages (docs/page-versions.md, "GC on pages"): every builder of a data
     * directory here starts from the newest materialized base (conf {@code redo.start_from_anchors}), so the WAL
     * before it can go while a pg runs. Off: the newest image at or below each point and all WAL since.
     */
    private final boolean pageBases;

    RetentionPolicy(StorageRegistry storages, SnapshotCatalog snapshots, PgRegistry registry, FollowedTimelines followed,
                    Management management, RunningCollections running, boolean pageBases) {
        this.storages = storages;
        this.snapshots = snapshots;
        this.registry = registry;
        this.followed = followed;
        this.management = management;
        this.running = running;
        this.pageBases = pageBases;
    }

    private GarbageCollector garbage(StorageRegistry.Storage storage) {
        GarbageCollector g = storage.store().garbage();
        g.useMaterializedBases(pageBases);
        return g;
    }

    /**
     * A snapshot, the one in its past ({@code parent}, or null), and what it alone keeps alive: the WAL and
     * page bytes a collection would free without it (null when not asked for).
     */
    public record SnapshotRetention(Snapshot snapshot, String parent, Long retainsWalBytes, Long retainsPageBytes) {
    }

    /** What a collection freed on a storage, with the PITR window it kept. */
    public record Collected(String storageName, Duration pitr, GcStats stats) {
    }

    /**
     * Frees history nothing keeps: every point within the storage's PITR window (or {@code pitrOverride}),
     * every snapshot, every branch point and every timeline's end stay readable. Called under the management
     * lock; the points are taken under it, and the collection itself runs without it ({@link RunningCollections}).
     */
    Collected collectGarbage(String storageName, Duration pitrOverride) throws IOException {
        running.awaitNone(storageName); // one collection of a storage at a time
        StorageRegistry.Storage storage = storages.get(storageName);
        Duration pitr = pitrOverride != null ? pitrOverride : storage.pitr();
        Map<TimelineId, Lsn> windows = new HashMap<>();
        Map<TimelineId, List<Lsn>> retained = retainedPoints(storage, pitr, null, windows);
        Progress.current().phase("collecting garbage on storage " + storageName);
        running.begin(storageName);
        GcStats stats;
        try {
            stats = management.unlocked(() -> garbage(storage).collect(retained, windows));
        } finally {
            running.end(storageName);
        }
        LOG.info("garbage collection on storage " + storageName + " (PITR window " + pitr + "): " + stats);
        return new Collected(storageName, pitr, stats);
    }

    /**
     * Per timeline in use, the points that must stay readable: the PITR window's start and the snapshots.
     * In use: the storage's root, every pg's timeline, and those of snapshots, replication slots and open
     * replication connections. A branch whose pg was destroyed is none of these: it no longer pins its
     * parent's history, and garbage collection deletes it.
     */
    private Map<TimelineId, List<Lsn>> retainedPoints(StorageRegistry.Storage storage, Duration pitr, String exceptSnapshot,
                                                      Map<TimelineId, Lsn> windows) {
        Store store = storage.store();
        Instant cutoff = Instant.now().minus(pitr);
        Map<TimelineId, List<Lsn>> retained = new HashMap<>();
        Set<TimelineId> pgTimelines = new HashSet<>();
        registry.onStorage(storage.name()).forEach(c -> pgTimelines.add(c.record.timeline()));
        for (var t : store.timelines().all()) {
            if (!t.isRoot() && !pgTimelines.contains(t.id())) {
                continue; // no pg runs here; snapshots and slots below name it if they need it
            }
            retained.computeIfAbsent(t.id(), k -> new ArrayList<>()); // in use, even with no point to add
            // The window starts at the last commit before its cutoff; with none, it reaches back to the
            // oldest image (a point just past its checkpoint record's start, which that image serves).
            Lsn windowStart = store.changes().lastCommitAtOrBefore(t.id(), cutoff).map(c -> c.recordLsn())
                    .or(() -> store.images().retentionHorizon(t.id()).map(h -> h.plus(1))).orElse(null);
            if (windowStart != null) {
                retained.computeIfAbsent(t.id(), k -> new ArrayList<>()).add(windowStart);
                windows.put(t.id(), windowStart); // every point after it stays readable too
            }
        }
        for (Snapshot s : snapshots.list()) {
            if (s.storageName().equals(storage.name()) && !s.fullName().equals(exceptSnapshot)) {
                retained.computeIfAbsent(s.timeline(), k -> new ArrayList<>()).add(s.lsn());
            }
        }
        // A permanent replication slot's client resumes from its restart LSN: that WAL stays.
        ReplicationSlots.restartLsns(store).forEach((tl, lsns) -> retained.computeIfAbsent(tl, k -> new ArrayList<>())
                .addAll(lsns));
        followed.of(store).forEach(tl -> retained.computeIfAbsent(tl, k -> new ArrayList<>()));
        // An s3 storage uploads its WAL from each timeline's remote_lsn: that stays until the prefix holds it, however
        // short the window. Only timelines in use (named here, or an ancestor of one): a timeline nothing uses is
        // dropped whole, and the prefix's next base says so.
        Set<TimelineId> inUse = new HashSet<>();
        for (TimelineId named : retained.keySet()) {
            for (var t = store.timelines().get(named); t.isPresent() && inUse.add(t.get().id());
                 t = t.get().parentId().flatMap(p -> store.timelines().get(p))) {
                // the timeline and its ancestors
            }
        }
        storages.walNotYetRemote(storage.name()).forEach((tl, from) -> {
            if (inUse.contains(tl)) {
                retained.computeIfAbsent(tl, k -> new ArrayList<>()).add(from);
            }
        });
        return retained;
    }

    /**
     * The snapshots {@code which} picks, each with what it alone keeps alive: the WAL and page bytes a
     * collection would free without it, beyond the PITR window, the other snapshots and the branches;
     * with {@code sizes} false, without those (cheap).
     */
    List<SnapshotRetention> listSnapshots(Predicate<Snapshot> which, boolean sizes) {
        List<SnapshotRetention> out = new ArrayList<>();
        Map<String, long[]> baseline = new HashMap<>();
        for (Snapshot s : snapshots.list()) {
            if (!which.test(s)) {
                continue;
            }
            String parent = snapshots.parentOf(s).map(Snapshot::fullName).orElse(null);
            if (!sizes) {
                out.add(new SnapshotRetention(s, parent, null, null));
                continue;
            }
            StorageRegistry.Storage storage = storages.get(s.storageName());
            long[] base = baseline.computeIfAbsent(s.storageName(), k -> {
                Map<TimelineId, Lsn> windows = new HashMap<>();
                var g = garbage(storage).ifCollected(retainedPoints(storage, storage.pitr(), null, windows), windows);
                return new long[] {g.walBytesFreed(), g.pageBytesFreed()};
            });
            Map<TimelineId, Lsn> windows = new HashMap<>();
            var without = garbage(storage).ifCollected(retainedPoints(storage, storage.pitr(), s.fullName(),
                    windows), windows);
            long wal = Math.max(0, without.walBytesFreed() - base[0]);
            long pages = Math.max(0, without.pageBytesFreed() - base[1]);
            out.add(new SnapshotRetention(s, parent, wal, pages));
        }
        return out;
    }
}
