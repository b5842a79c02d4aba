package dev.zenith.server.history;

import dev.zenith.server.api.ApiException;
import dev.zenith.server.api.Names;
import dev.zenith.server.storages.StorageRegistry;
import dev.zenith.storage.Store;
import dev.zenith.storage.timeline.Timeline;
import dev.zenith.storage.timeline.TimelineId;
import io.vertx.core.json.JsonObject;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Collection;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Every snapshot of every storage, kept in each storage's metadata ({@code snapshot/PG@SNAP}) and in
 * memory for reads. Also remembers which branch timeline was made from which snapshot
 * ({@code branch/TIMELINE}), so a snapshot a branch depends on cannot be destroyed.
 * Mutations run on the management thread.
 */
public final class SnapshotCatalog {
    /** Made by {@code pg checkout} for the state a pg left; users cannot name their own snapshots so. */
    private static final Pattern HEAD = Pattern.compile("HEAD([1-9][0-9]{0,8})");
    private static final String BRANCH_PREFIX = "branch/";

    private final StorageRegistry storages;
    private final Map<String, Snapshot> snapshots = new ConcurrentHashMap<>();

    public SnapshotCatalog(StorageRegistry storages) {
        this.storages = storages;
    }

    public void load() {
        storages.list().forEach(this::load);
    }

    /** A storage just attached (it may hold snapshots from before). */
    public void load(StorageRegistry.Storage s) {
        s.store().listMeta("snapshot/").values().forEach(b -> {
            Snapshot snap = Snapshot.fromJson(new JsonObject(new String(b, StandardCharsets.UTF_8)));
            snapshots.put(snap.fullName(), snap);
        });
    }

    /** A storage being detached: its snapshots stay in it, and leave this catalog. */
    public void forget(String storageName) {
        snapshots.values().removeIf(s -> s.storageName().equals(storageName));
    }

    /** Splits and checks {@code PG@SNAP}; {@code allowHead} admits the HEAD{i} names checkout makes. */
    public static String[] parseName(String fullName, boolean allowHead) {
        int at = fullName == null ? -1 : fullName.indexOf('@');
        if (at < 0) {
            throw ApiException.badRequest("snapshot names have the form PG@SNAP, got "
                    + (fullName == null ? "nothing" : "'" + fullName + "'"));
        }
        String pg = Names.check("pg", fullName.substring(0, at));
        String snap = fullName.substring(at + 1);
        if (!(allowHead && HEAD.matcher(snap).matches())) {
            Names.check("snapshot", snap);
        }
        return new String[] {pg, snap};
    }

    public Snapshot create(String fullName, boolean allowHead, String storageName, HistoryPoint point) {
        String[] parts = parseName(fullName, allowHead);
        if (snapshots.containsKey(fullName)) {
            throw ApiException.conflict("snapshot '" + fullName + "' already exists");
        }
        Snapshot s = new Snapshot(parts[0], parts[1], storageName, point.timeline(), point.lsn(), point.commitTime(),
                Instant.now());
        storages.get(storageName).store().putMeta(Snapshot.key(fullName),
                s.toJson().encode().getBytes(StandardCharsets.UTF_8));
        snapshots.put(fullName, s);
        return s;
    }

    public Snapshot get(String fullName) {
        Snapshot s = snapshots.get(fullName);
        if (s == null) {
            parseName(fullName, true); // a malformed name is a 400, not a 404
            throw ApiException.notFound("snapshot '" + fullName + "' not found");
        }
        return s;
    }

    public Collection<Snapshot> list() {
        return snapshots.values().stream().sorted(Comparator.comparing(Snapshot::createdAt)
                .thenComparing(Snapshot::fullName)).toList();
    }

    public List<Snapshot> ofPg(String pg) {
        return list().stream().filter(s -> s.pg().equals(pg)).toList();
    }

    /** The next free i for {@code PG@HEAD{i}}. */
    public int nextHeadIndex(String pg) {
        int max = 0;
        for (Snapshot s : ofPg(pg)) {
            Matcher m = HEAD.matcher(s.name());
            if (m.matches()) {
                max = Math.max(max, Integer.parseInt(m.group(1)));
            }
        }
        return max + 1;
    }

    /** The newest other snapshot in {@code s}'s past (its lineage, at or before its point), if any. */
    public Optional<Snapshot> parentOf(Snapshot s) {
        Store store = storages.get(s.storageName()).store();
        Map<TimelineId, dev.zenith.wal.Lsn> past = HistoryDiff.visible(store, s.timeline(), s.lsn());
        return snapshots.values().stream()
                .filter(p -> p != s && p.storageName().equals(s.storageName()))
                .filter(p -> past.containsKey(p.timeline()) && !p.lsn().isAfter(past.get(p.timeline())))
                .filter(p -> !(p.timeline().equals(s.timeline()) && p.lsn().equals(s.lsn()) && !p.createdAt().isBefore(s.createdAt())))
                .max(Comparator.comparing(Snapshot::lsn).thenComparing(Snapshot::createdAt));
    }

    /** Records that {@code branch} was made from {@code snapshot}. */
    public void recordBranch(Store store, TimelineId branch, Snapshot snapshot) {
        store.putMeta(BRANCH_PREFIX + branch, snapshot.fullName().getBytes(StandardCharsets.UTF_8));
    }

    /** The snapshot a timeline (or any of its ancestors) was branched from, if it is this one. */
    public boolean dependsOn(Store store, TimelineId timeline, String snapshotName) {
        TimelineId t = timeline;
        while (t != null) {
            Optional<byte[]> source = store.getMeta(BRANCH_PREFIX + t);
            if (source.isPresent() && new String(source.get(), StandardCharsets.UTF_8).equals(snapshotName)) {
                return true;
            }
            t = store.timeline(t).flatMap(Timeline::parentId).orElse(null);
        }
        return false;
    }

    /**
     * Destroys a snapshot unless something still stands on it: a pg, or another snapshot, whose
     * timeline descends from a branch made from it ({@code timelinesInUse}: the pgs' timelines).
     */
    public Snapshot destroy(String fullName, Collection<TimelineId> timelinesInUse) {
        Snapshot s = get(fullName);
        Store store = storages.get(s.storageName()).store();
        for (TimelineId t : timelinesInUse) {
            if (dependsOn(store, t, fullName)) {
                throw ApiException.conflict("snapshot '" + fullName + "' has a branch that depends on it (timeline " + t
                        + "); destroy the pgs on that branch first");
            }
        }
        for (Snapshot other : snapshots.values()) {
            if (other != s && other.storageName().equals(s.storageName()) && dependsOn(store, other.timeline(), fullName)) {
                throw ApiException.conflict("snapshot '" + fullName + "' has a branch that snapshot '"
                        + other.fullName() + "' depends on; destroy that first");
            }
        }
        store.deleteMeta(Snapshot.key(fullName));
        snapshots.remove(fullName);
        return s;
    }
}
