package dev.zenith.server.history;

import dev.zenith.server.domain.InvalidRequestException;
import dev.zenith.server.domain.NotFoundException;
import dev.zenith.server.domain.ConflictException;
import dev.zenith.server.domain.Names;
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
 * Mutations run under the management lock (one at a time); reads may come from anywhere.
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

    /** A storage just attached (it may hold snapshots from before). */
    public void load(StorageRegistry.Storage s) {
        s.store().documents().list(Snapshot.key("")).values().forEach(b -> {
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
            throw new InvalidRequestException("snapshot names have the form PG@SNAP, got "
                    + (fullName == null ? "nothing" : "'" + fullName + "'"));
        }
        String pg = Names.check("pg", fullName.substring(0, at));
        String snap = fullName.substring(at + 1);
        if (!(allowHead && HEAD.matcher(snap).matches())) {
            Names.check("snapshot", snap);
        }
        return new String[] {pg, snap};
    }

    /** @throws ConflictException when a snapshot of that name exists */
    public void requireNew(String fullName) {
        if (snapshots.containsKey(fullName)) {
            throw new ConflictException("snapshot '" + fullName + "' already exists");
        }
    }

    public Snapshot create(String fullName, boolean allowHead, String storageName, HistoryPoint point) {
        String[] parts = parseName(fullName, allowHead);
        requireNew(fullName);
        Snapshot s = new Snapshot(parts[0], parts[1], storageName, point.timeline(), point.lsn(), point.commitTime(),
                Instant.now());
        storages.get(storageName).store().documents().put(Snapshot.key(fullName),
                s.toJson().encode().getBytes(StandardCharsets.UTF_8));
        snapshots.put(fullName, s);
        return s;
    }

    public Snapshot get(String fullName) {
        Snapshot s = snapshots.get(fullName);
        if (s == null) {
            parseName(fullName, true); // a malformed name is a 400, not a 404
            throw new NotFoundException("snapshot '" + fullName + "' not found");
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
        store.documents().put(BRANCH_PREFIX + branch, snapshot.fullName().getBytes(StandardCharsets.UTF_8));
    }

    /** The newest {@code PG@HEAD{i}} (where a checkout left the pg) that does not stand on {@code snapshot}. */
    private Optional<String> latestHeadNotOn(Store store, String pg, String snapshot) {
        return ofPg(pg).stream().filter(h -> !h.fullName().equals(snapshot) && !dependsOn(store, h.timeline(), snapshot))
                .map(Snapshot::fullName).filter(n -> HEAD.matcher(n.substring(n.indexOf('@') + 1)).matches())
                .max(Comparator.comparingInt(n -> Integer.parseInt(n.substring(n.indexOf("@HEAD") + 5))));
    }

    /** The snapshot a timeline (or any of its ancestors) was branched from, if it is this one. */
    public boolean dependsOn(Store store, TimelineId timeline, String snapshotName) {
        TimelineId t = timeline;
        while (t != null) {
            Optional<byte[]> source = store.documents().get(BRANCH_PREFIX + t);
            if (source.isPresent() && new String(source.get(), StandardCharsets.UTF_8).equals(snapshotName)) {
                return true;
            }
            t = store.timelines().get(t).flatMap(Timeline::parentId).orElse(null);
        }
        return false;
    }

    /**
     * Destroys a snapshot unless something still stands on it: a pg, or another snapshot, whose
     * timeline descends from a branch made from it ({@code pgsOnTimelines}: the pgs' names by timeline).
     * The refusal names each of them and what to run.
     */
    public Snapshot destroy(String fullName, Map<TimelineId, List<String>> pgsOnTimelines) {
        Snapshot s = get(fullName);
        Store store = storages.get(s.storageName()).store();
        List<String> pgs = pgsOnTimelines.entrySet().stream().filter(e -> dependsOn(store, e.getKey(), fullName))
                .flatMap(e -> e.getValue().stream()).sorted().toList();
        List<String> snaps = snapshots.values().stream()
                .filter(o -> o != s && o.storageName().equals(s.storageName()) && dependsOn(store, o.timeline(), fullName))
                .map(Snapshot::fullName).sorted().toList();
        if (!pgs.isEmpty() || !snaps.isEmpty()) {
            List<String> what = new java.util.ArrayList<>();
            for (String pg : pgs) {
                String elsewhere = latestHeadNotOn(store, pg, fullName).map(h -> "pg checkout " + pg + " " + h)
                        .orElse("pg checkout " + pg + " PG@SNAP");
                what.add("pg '" + pg + "', whose history branches there (move it: " + elsewhere + "; or pg destroy "
                        + pg + ")");
            }
            for (String snap : snaps) {
                String pg = snap.substring(0, snap.indexOf('@'));
                boolean head = HEAD.matcher(snap.substring(snap.indexOf('@') + 1)).matches();
                what.add("snapshot '" + snap + "'" + (head ? ", the state pg '" + pg + "' left at a checkout," : "")
                        + " which lies on such a branch (snapshot destroy " + snap + ")");
            }
            throw new ConflictException("snapshot '" + fullName + "' cannot be destroyed while something stands on it: "
                    + String.join("; ", what));
        }
        store.documents().delete(Snapshot.key(fullName));
        snapshots.remove(fullName);
        return s;
    }
}
