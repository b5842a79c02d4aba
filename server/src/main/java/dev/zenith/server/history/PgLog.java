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

    /**
     * One entry: {@code kind} is {@code commit} (with its xid), {@code branched_from} (its timeline and parent),
     * {@code snapshot} and {@code checkout} (name, timeline, commit time), {@code branch} (its timeline) or
     * {@code stop}; {@code text} says it in words (null for a commit and a snapshot). What a kind lacks is null.
     */
    public record Entry(String kind, Instant time, Lsn lsn, Long xid, String name, TimelineId timeline,
                        TimelineId parentTimeline, Instant commitTime, String text) {
        static Entry of(String kind, Instant time, Lsn lsn, String text) {
            return new Entry(kind, time, lsn, null, null, null, null, null, text);
        }
    }

    /** A page of entries, newest first; {@code nextUntil}: where the next page ends, or null for the last. */
    public record Page(String pg, TimelineId timeline, Lsn end, List<Entry> entries, Instant nextUntil,
                       Lsn retentionHorizon) {
    }

    private PgLog() {
    }

    /** Entries with times in [since, until), newest first, at most {@code limit}. */
    public static Page of(Subject s, Instant since, Instant until, int limit) {
        Store store = s.store();
        Lsn end = store.wal().end(s.timeline()).orElse(Lsn.INVALID);
        List<Entry> entries = new ArrayList<>();
        long from = since == null ? Long.MIN_VALUE : CommitRecord.toPgMicros(since);
        long to = until == null ? Long.MAX_VALUE : CommitRecord.toPgMicros(until);
        for (CommitRecord c : store.changes().commitsNewestFirst(s.timeline(), end, from, to, limit + 1)) {
            entries.add(new Entry("commit", c.time(), c.recordLsn(), xid(store, s.timeline(), c.recordLsn()), null, null,
                    null, null, null));
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
            entries.add(new Entry("branched_from", child.createdAt(), child.branchLsn(), null, null, child.id(), t.id(), null,
                    (child.id().equals(s.timeline()) ? "pg " + s.pg() + " starts here" : "its history continues here")
                            + ": branched at " + child.branchLsn() + namesOn(s, t.id(), " of ", "")));
        }
        for (Snapshot snap : s.snapshots()) {
            if (snap.pg().equals(s.pg()) && HEAD.matcher(snap.name()).matches()) {
                // a checkout left this state (on the history it left, or on this one when it came back)
                entries.add(snapshotEntry(snap, "checkout", "checkout: the state pg " + s.pg() + " left is " + snap.fullName()));
            } else if (lineage.contains(snap.timeline()) && !snap.lsn().isAfter(upTo.get(snap.timeline()))) {
                entries.add(snapshotEntry(snap, "snapshot", null));
            }
        }
        for (Timeline other : all) {
            if (other.parent() != null && lineage.contains(other.parent()) && !lineage.contains(other.id())
                    && !other.branchLsn().isAfter(upTo.get(other.parent()))) {
                entries.add(new Entry("branch", other.createdAt(), other.branchLsn(), null, null, other.id(), null, null,
                        "branch taken at " + other.branchLsn() + namesOn(s, other.id(), ": pg ", ": no pg")));
            }
        }
        for (TimelineId id : lineage) {
            for (ImageManifest image : store.images().of(id)) {
                if (!image.lsn().isAfter(upTo.get(id))) {
                    entries.add(Entry.of("stop", image.createdAt(), image.lsn(),
                            "clean stop (or initdb): an image of the data directory"));
                }
            }
        }
        entries.removeIf(e -> e.time() == null || (since != null && e.time().isBefore(since))
                || (until != null && !e.time().isBefore(until)));
        entries.sort(Comparator.comparing(Entry::time).reversed());
        boolean more = entries.size() > limit;
        List<Entry> page = more ? entries.subList(0, limit) : entries;
        return new Page(s.pg(), s.timeline(), end, List.copyOf(page), more ? page.get(page.size() - 1).time() : null,
                store.images().retentionHorizon(s.timeline()).orElse(null));
    }

    private static Entry snapshotEntry(Snapshot snap, String kind, String text) {
        return new Entry(kind, snap.createdAt(), snap.lsn(), null, snap.fullName(), snap.timeline(), null,
                snap.commitTime(), text);
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
