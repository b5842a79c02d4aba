package dev.zenith.server.history;

import dev.zenith.storage.Store;
import dev.zenith.storage.image.ImageManifest;
import dev.zenith.storage.timeline.Timeline;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.storage.wal.CommitRecord;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.decoder.DecodeResult;
import dev.zenith.wal.decoder.WalStreamDecoder;
import dev.zenith.wal.record.DecodedRecord;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * {@code zenith log PG}: a pg's history, newest first: its commits (time, LSN, xid), snapshots, the
 * states its checkouts left (HEADn), clean stops (the images they left), where it branched from, the
 * branches taken from it, and the retention horizon. Entries are ordered by when they happened and
 * paged by time ({@code next_until}). Blocking (reads the store).
 */
public final class PgLog {
    private static final Pattern HEAD = Pattern.compile("HEAD\\d+");
    private static final int MAX_COMMIT_RECORD = 64 * 1024;

    /** Which pg, on which timeline, with which snapshots and pgs around it. */
    public record Subject(String pg, TimelineId timeline, Store store, List<Snapshot> snapshots,
                          Map<String, TimelineId> pgTimelines) {
    }

    private record Entry(Instant time, JsonObject json) {
    }

    private PgLog() {
    }

    /** Entries with times in [since, until), newest first, at most {@code limit}. */
    public static JsonObject of(Subject s, Instant since, Instant until, int limit) {
        Store store = s.store();
        Lsn end = store.wal().end(s.timeline()).orElse(Lsn.INVALID);
        List<Entry> entries = new ArrayList<>();
        long from = since == null ? Long.MIN_VALUE : CommitRecord.toPgMicros(since);
        long to = until == null ? Long.MAX_VALUE : CommitRecord.toPgMicros(until);
        for (CommitRecord c : store.changes().commitsNewestFirst(s.timeline(), end, from, to, limit + 1)) {
            entries.add(new Entry(c.time(), new JsonObject().put("kind", "commit").put("lsn", c.recordLsn().toString())
                    .put("time", c.time().toString()).put("xid", xid(store, s.timeline(), c.recordLsn()))));
        }
        // The lineage: the pg's timeline up to its end, then each ancestor up to where its child branched.
        List<Timeline> all = store.timelines().all();
        Set<TimelineId> lineage = new HashSet<>();
        Map<TimelineId, Lsn> upTo = new java.util.HashMap<>();
        Timeline t = store.timelines().get(s.timeline()).orElseThrow();
        Lsn limitLsn = end;
        while (true) {
            lineage.add(t.id());
            upTo.put(t.id(), limitLsn);
            if (t.parent() == null) {
                break;
            }
            Timeline child = t;
            limitLsn = Lsn.min(limitLsn, t.branchLsn());
            t = store.timelines().get(t.parent()).orElseThrow();
            entries.add(new Entry(child.createdAt(), new JsonObject().put("kind", "branched_from")
                    .put("lsn", child.branchLsn().toString()).put("time", child.createdAt().toString())
                    .put("timeline_id", child.id().toString()).put("parent_timeline_id", t.id().toString())
                    .put("text", (child.id().equals(s.timeline()) ? "pg " + s.pg() + " starts here" : "its history continues here")
                            + ": branched at " + child.branchLsn() + namesOn(s, t.id(), " of ", ""))));
        }
        for (Snapshot snap : s.snapshots()) {
            if (snap.pg().equals(s.pg()) && HEAD.matcher(snap.name()).matches()) {
                // a checkout left this state (on the history it left, or on this one when it came back)
                entries.add(new Entry(snap.createdAt(), snapshotJson(snap, "checkout")
                        .put("text", "checkout: the state pg " + s.pg() + " left is " + snap.fullName())));
            } else if (lineage.contains(snap.timeline()) && !snap.lsn().isAfter(upTo.get(snap.timeline()))) {
                entries.add(new Entry(snap.createdAt(), snapshotJson(snap, "snapshot")));
            }
        }
        for (Timeline other : all) {
            if (other.parent() != null && lineage.contains(other.parent()) && !lineage.contains(other.id())
                    && !other.branchLsn().isAfter(upTo.get(other.parent()))) {
                entries.add(new Entry(other.createdAt(), new JsonObject().put("kind", "branch")
                        .put("lsn", other.branchLsn().toString()).put("time", other.createdAt().toString())
                        .put("timeline_id", other.id().toString())
                        .put("text", "branch taken at " + other.branchLsn() + namesOn(s, other.id(), ": pg ", ": no pg"))));
            }
        }
        for (TimelineId id : lineage) {
            for (ImageManifest image : store.images().of(id)) {
                if (!image.lsn().isAfter(upTo.get(id))) {
                    entries.add(new Entry(image.createdAt(), new JsonObject().put("kind", "stop")
                            .put("lsn", image.lsn().toString()).put("time", image.createdAt().toString())
                            .put("text", "clean stop (or initdb): an image of the data directory")));
                }
            }
        }
        entries.removeIf(e -> e.time() == null || (since != null && e.time().isBefore(since))
                || (until != null && !e.time().isBefore(until)));
        entries.sort(Comparator.comparing(Entry::time).reversed());
        boolean more = entries.size() > limit;
        List<Entry> page = more ? entries.subList(0, limit) : entries;
        JsonArray out = new JsonArray();
        page.forEach(e -> out.add(e.json()));
        JsonObject json = new JsonObject().put("pg", s.pg()).put("timeline_id", s.timeline().toString())
                .put("end_lsn", end.toString()).put("entries", out)
                .put("next_until", more ? page.get(page.size() - 1).time().toString() : null);
        store.images().retentionHorizon(s.timeline()).ifPresent(h -> json.put("retention_horizon", h.toString()));
        return json;
    }

    private static JsonObject snapshotJson(Snapshot snap, String kind) {
        return new JsonObject().put("kind", kind).put("lsn", snap.lsn().toString()).put("time", snap.createdAt().toString())
                .put("name", snap.fullName()).put("timeline_id", snap.timeline().toString())
                .put("commit_time", snap.commitTime() == null ? null : snap.commitTime().toString());
    }

    private static String namesOn(Subject s, TimelineId tl, String before, String none) {
        List<String> names = s.pgTimelines().entrySet().stream().filter(e -> e.getValue().equals(tl))
                .map(Map.Entry::getKey).sorted().toList();
        return names.isEmpty() ? none : before + String.join(", ", names);
    }

    /** The commit record's xid, decoded from the WAL at its LSN (null if that WAL is gone). */
    private static Long xid(Store store, TimelineId tl, Lsn record) {
        try {
            byte[] wal = store.wal().read(tl, record, MAX_COMMIT_RECORD);
            WalStreamDecoder d = WalStreamDecoder.builder(record).startIsRecord().build();
            d.feed(wal);
            DecodeResult r = d.poll();
            return r instanceof DecodedRecord rec ? rec.xid() : null;
        } catch (RuntimeException e) {
            return null;
        }
    }
}
