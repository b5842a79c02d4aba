package dev.zenith.storage.timeline;

import dev.zenith.storage.meta.DocumentStore;
import dev.zenith.wal.Lsn;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.TreeMap;
import java.util.function.Function;

/**
 * The PostgreSQL timelines (TLIs) along a store timeline's lineage, as PostgreSQL's own history files
 * describe them. A store timeline whose TLI differs from its parent's (a promotion; since branches and
 * checkouts end recovery on a timeline of their own, every branch) keeps the history file of that TLI
 * in its storage's metadata ({@code history/<timeline id>}); the TLI begins at the switch point its last
 * line names. TLIs are unique within a storage, as in one WAL archive: a standby or {@code pg_receivewal}
 * that followed one history can tell another one apart. Blocking (reads the store).
 */
public final class PgTimelines {
    /** The document key prefix of a timeline's history file: {@code history/<timeline id>}. */
    private static final String HISTORY_KEY = "history/";
    /** The highest TLI ever given out in the storage, so a number is never given twice. */
    private static final String LAST_TLI_KEY = "cluster/last_pg_timeline";
    /** What PostgreSQL writes as the reason when recovery ends at the end of WAL. */
    private static final String END_OF_WAL_REASON = "no recovery target specified";

    /** Where a TLI begins along a lineage ({@link Lsn#INVALID} for the first). */
    public record Entry(int tli, Lsn begin) {
    }

    private final TimelineStore timelines;
    private final DocumentStore documents;
    private final Function<TimelineId, Optional<Lsn>> lastRecordEnd;

    /** {@code lastRecordEnd}: where a timeline's last complete WAL record ends (the WAL log's answer). */
    public PgTimelines(TimelineStore timelines, DocumentStore documents, Function<TimelineId, Optional<Lsn>> lastRecordEnd) {
        this.timelines = timelines;
        this.documents = documents;
        this.lastRecordEnd = lastRecordEnd;
    }

    /** The history file of the TLI that {@code timeline} begins, if it begins one. */
    public Optional<byte[]> history(TimelineId timeline) {
        return documents.get(HISTORY_KEY + timeline);
    }

    public void saveHistory(TimelineId timeline, byte[] content) {
        documents.put(HISTORY_KEY + timeline, content);
    }

    /** Every history file along the lineage, by TLI. */
    public TreeMap<Integer, byte[]> historyFiles(TimelineId timeline) {
        TreeMap<Integer, byte[]> out = new TreeMap<>();
        for (Timeline t : lineage(timeline)) {
            int tli = t.pgTimeline();
            history(t.id()).ifPresent(h -> out.putIfAbsent(tli, h));
        }
        return out;
    }

    /** The TLIs of the lineage, oldest first, each with where it begins. */
    public List<Entry> entries(TimelineId timeline) {
        List<Timeline> lineage = lineage(timeline);
        List<Entry> out = new ArrayList<>();
        for (int i = lineage.size() - 1; i >= 0; i--) {
            Timeline t = lineage.get(i);
            if (out.isEmpty()) {
                out.add(new Entry(t.pgTimeline(), Lsn.INVALID));
            } else if (t.pgTimeline() != out.get(out.size() - 1).tli()) {
                out.add(new Entry(t.pgTimeline(), switchPoint(t)));
            }
        }
        return out;
    }

    /** The TLI that WAL position {@code lsn} belongs to: the newest entry beginning at or before it. */
    public static int tliAt(List<Entry> entries, Lsn lsn) {
        int tli = entries.get(0).tli();
        for (Entry e : entries) {
            if (!e.begin().isAfter(lsn)) {
                tli = e.tli();
            }
        }
        return tli;
    }

    /** Where {@code t}'s own TLI begins: the switch point its history file names, else its branch point. */
    public Lsn switchPoint(Timeline t) {
        return history(t.id()).flatMap(PgTimelines::lastSwitchPoint).orElse(t.branchLsn());
    }

    /** Whether the lineage of {@code timeline} has no WAL record on its own TLI yet: its compute must begin it. */
    public boolean beginsAtStart(TimelineId timeline) {
        Timeline t = timelines.get(timeline).orElseThrow();
        if (t.isRoot() || history(timeline).isEmpty()) {
            return false;
        }
        Lsn end = lastRecordEnd.apply(timeline).orElse(Lsn.INVALID);
        return !end.isAfter(switchPoint(t));
    }

    /**
     * Whether a standby that replays {@code from}'s history can move on to {@code to}'s by itself, as
     * PostgreSQL follows a newer timeline: {@code to}'s lineage must leave the TLI of {@code from}'s end at or
     * after that end (the furthest the standby may have replayed). One that replayed past the switch would
     * have to go back in its own history, which PostgreSQL refuses ("forked off ... before current recovery
     * point").
     */
    public boolean standbyCanFollow(TimelineId from, TimelineId to) {
        if (from.equals(to)) {
            return true;
        }
        Lsn end = lastRecordEnd.apply(from).orElse(null);
        if (end == null) {
            return false;
        }
        int tli = tliAt(entries(from), end.plus(-1));
        List<Entry> next = entries(to);
        for (int i = 0; i + 1 < next.size(); i++) {
            if (next.get(i).tli() == tli) {
                return !next.get(i + 1).begin().isBefore(end);
            }
        }
        return false;
    }

    /**
     * The history file of a TLI that another history of the storage has, as a compute or standby of this
     * history gets it: a comment, a history of no parent. PostgreSQL looks for the history of every number
     * between its timeline and the newest (a walreceiver fetches them, findNewestTimeLine stops at the first
     * missing one); such a file lets it pass the number, and no standby finds anything there it could follow.
     */
    public static byte[] placeholderHistory(int tli) {
        return ("# zenith: timeline " + tli + " belongs to another history of this storage\n").getBytes(StandardCharsets.US_ASCII);
    }

    /**
     * Whether {@code tli} was given out in the storage: up to the highest ever given, also once the timeline
     * that had it is gone (a destroyed branch, collected), since no number is given twice.
     */
    public boolean given(int tli) {
        return tli >= 1 && tli <= lastGiven();
    }

    /** A TLI no timeline of the storage has had (blocking; callers are serialized by the daemon). */
    public int allocate() {
        int next = lastGiven() + 1;
        documents.put(LAST_TLI_KEY, Integer.toString(next).getBytes(StandardCharsets.UTF_8));
        return next;
    }

    /** The highest TLI given out: the one recorded, or a timeline's when higher (stores from before the record). */
    private int lastGiven() {
        int max = documents.get(LAST_TLI_KEY).map(b -> Integer.parseInt(new String(b, StandardCharsets.UTF_8))).orElse(1);
        for (Timeline t : timelines.all()) {
            max = Math.max(max, t.pgTimeline());
        }
        return max;
    }

    /**
     * The history file PostgreSQL writes when recovery ends at the end of WAL at {@code switchPoint} on
     * TLI {@code parentTli} and it selects {@code newTli}: the parent's history file verbatim, then (after
     * a newline when there was one) the line for this switch (xlog.c's writeTimeLineHistory).
     */
    public byte[] historyOfNewTimeline(TimelineId parentLineage, int parentTli, Lsn switchPoint) {
        byte[] parent = historyFiles(parentLineage).get(parentTli);
        String line = (parent == null ? "" : "\n") + parentTli + "\t" + switchPoint + "\t" + END_OF_WAL_REASON + "\n";
        byte[] tail = line.getBytes(StandardCharsets.US_ASCII);
        byte[] out = new byte[(parent == null ? 0 : parent.length) + tail.length];
        if (parent != null) {
            System.arraycopy(parent, 0, out, 0, parent.length);
        }
        System.arraycopy(tail, 0, out, out.length - tail.length, tail.length);
        return out;
    }

    /** The switch point of a history file's last entry. */
    private static Optional<Lsn> lastSwitchPoint(byte[] history) {
        Lsn last = null;
        for (String line : new String(history, StandardCharsets.US_ASCII).split("\n")) {
            String l = line.strip();
            if (l.isEmpty() || l.startsWith("#")) {
                continue;
            }
            String[] fields = l.split("\\s+");
            if (fields.length >= 2) {
                last = Lsn.parse(fields[1]);
            }
        }
        return Optional.ofNullable(last);
    }

    /** The timeline, then its ancestors up to the root. */
    private List<Timeline> lineage(TimelineId timeline) {
        List<Timeline> out = new ArrayList<>();
        for (Optional<Timeline> t = timelines.get(timeline); t.isPresent(); t = t.get().parentId().flatMap(timelines::get)) {
            out.add(t.get());
        }
        return out;
    }
}
