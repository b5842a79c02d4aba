package dev.zenith.storage.wal;

import dev.zenith.storage.lmdb.ColdValues;
import dev.zenith.storage.lmdb.EvictedValueException;
import dev.zenith.storage.lmdb.Keys;
import dev.zenith.storage.lmdb.TableCursor;
import dev.zenith.storage.lmdb.Tables;
import dev.zenith.storage.timeline.Lineage;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.storage.timeline.TimelineStore;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.RelTag;
import org.lmdbjava.GetOp;
import dev.zenith.storage.lmdb.ReadTxn;
import org.lmdbjava.Txn;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.SortedSet;
import java.util.TreeSet;

/**
 * Questions asked of what the WAL log indexed as it appended (block changes, commits by time,
 * checkpoints), along a timeline's lineage: which blocks changed between two LSNs, the last commit
 * before a time or a position. Blocking and thread-safe; reads only.
 */
public final class ChangeIndex {
    private final Tables tables;
    private final TimelineStore timelines;

    public ChangeIndex(Tables tables, TimelineStore timelines) {
        this.tables = tables;
        this.timelines = timelines;
    }

    /**
     * Distinct blocks touched by the WAL records between two points of the history (records ending in (from, to],
     * see {@link #forEachChange}), ancestors included.
     */
    public SortedSet<BlockRef> changedBlocks(TimelineId id, Lsn from, Lsn to) {
        SortedSet<BlockRef> out = new TreeSet<>();
        forEachChange(id, from, to, (lsn, rel, block) -> out.add(new BlockRef(rel, block)));
        return out;
    }

    /**
     * Every block change of the WAL records between two points of the timeline's history, on its lineage: records
     * that end in (from, to]. Points are record boundaries (a snapshot's or an image's LSN, a branch point: a record's
     * end, MAXALIGNed or not, or a record's start) and the index keeps each change under its record's start, so these
     * are the records that start in [from, to): a record starting at {@code from} (the one right after a point at an
     * 8-byte-aligned end) is in, one starting at {@code to} or at a branch point is not.
     * Entries hold the changes of one append, keyed by its first record, and records complete in LSN
     * order, so the entries partition the LSNs: start at the last entry keyed at or below the range.
     * A block is visited once per record that changed it, in LSN order per lineage step. The entries are read
     * {@link #ENTRIES_PER_READ} at a time in read transactions that download nothing; entries evicted to S3 are
     * downloaded, and every entry visited, after each closed: a reader open across downloads keeps the pages
     * eviction frees meanwhile from reuse, and writes then grow LMDB's file past the cache bound.
     */
    public void forEachChange(TimelineId id, Lsn from, Lsn to, BlockChanges.Visitor visitor) {
        Lineage lineage;
        try (ReadTxn read = tables.read()) {
            lineage = timelines.lineage(read.txn(), id, to);
        }
        List<Entry> entries = new ArrayList<>();
        for (Lineage.Step step : lineage.steps()) {
            byte[] next = null;
            do {
                entries.clear();
                next = readEntries(step, from, next, entries);
                for (Entry e : entries) {
                    BlockChanges.unpack(e.value() != null ? e.value() : e.evicted().fetch(), (start, rel, block) -> {
                        // record starts against points (record ends): [from, to) is "ends in (from, to]"
                        if (!start.isBefore(from) && start.isBefore(step.upTo())) {
                            visitor.visit(start, rel, block);
                        }
                    });
                }
            } while (next != null);
        }
    }

    /** Entries of {@code changes_by_lsn} one read transaction of {@link #forEachChange} reads at most. */
    static final int ENTRIES_PER_READ = 256;

    /** An entry's packed changes, or what fetches them (evicted). */
    private record Entry(byte[] value, EvictedValueException evicted) {
    }

    /**
     * Adds to {@code out} the entries of {@code step}'s timeline from key {@code from} on (null: the last keyed at or
     * below the range's start, which holds the record starting there) up to the step's end (exclusive: an entry keyed
     * there holds only records starting at or after it), at most {@link #ENTRIES_PER_READ}, in one read transaction
     * that downloads nothing. Returns the key to go on from, or null when the step's entries are all read.
     */
    private byte[] readEntries(Lineage.Step step, Lsn rangeStart, byte[] from, List<Entry> out) {
        try (ReadTxn read = tables.read(); TableCursor c = tables.changesByLsn().openCursor(read.txn())) {
            byte[] prefix = Keys.timeline(step.timeline());
            boolean ok;
            if (from != null) {
                ok = c.get(from, GetOp.MDB_SET_RANGE);
            } else {
                ok = c.floorKey(Keys.timelineLsn(step.timeline(), rangeStart), Keys.TL) != null
                        || c.get(Keys.timelineLsn(step.timeline(), Lsn.INVALID), GetOp.MDB_SET_RANGE);
            }
            return ColdValues.withoutFetching(() -> {
                for (boolean more = ok; more && Keys.hasPrefix(c.key(), prefix); more = c.next()) {
                    if (!Keys.lsnAt(c.key(), Keys.TL).isBefore(step.upTo())) {
                        return null;
                    }
                    if (out.size() == ENTRIES_PER_READ) {
                        return c.key();
                    }
                    try {
                        out.add(new Entry(c.val(), null));
                    } catch (EvictedValueException e) {
                        out.add(new Entry(null, e));
                    }
                }
                return null;
            });
        }
    }

    /**
     * Relations touched by the WAL records between two points of the history (records ending in (from, to], see
     * {@link #forEachChange}), ancestors included.
     */
    public SortedSet<RelTag> changedRelations(TimelineId id, Lsn from, Lsn to) {
        SortedSet<RelTag> out = new TreeSet<>(RelTag.ORDER);
        forEachChange(id, from, to, (lsn, rel, block) -> out.add(rel)); // no set of every block
        return out;
    }

    /**
     * The start of the last WAL record of the history up to the point {@code upTo} (records ending at or before it) that
     * touched the block. A scan of the change index (nothing on a hot path asks this yet; a per-block index would cost
     * every commit).
     */
    public Optional<Lsn> lastChange(TimelineId id, RelTag rel, int block, Lsn upTo) {
        Lsn[] last = {null};
        forEachChange(id, Lsn.INVALID, upTo, (lsn, r, b) -> {
            if (b == block && r.equals(rel) && (last[0] == null || lsn.isAfter(last[0]))) {
                last[0] = lsn;
            }
        });
        return Optional.ofNullable(last[0]);
    }

    /** Checkpoint record LSNs in (fromExclusive, toInclusive], ancestors included, ascending. */
    public List<Lsn> checkpoints(TimelineId id, Lsn fromExclusive, Lsn toInclusive) {
        SortedSet<Lsn> out = new TreeSet<>();
        try (ReadTxn read = tables.read(); TableCursor c = tables.checkpoints().openCursor(read.txn())) {
            Txn<byte[]> txn = read.txn();
            for (Lineage.Step step : timelines.lineage(txn, id, toInclusive).steps()) {
                byte[] prefix = Keys.timeline(step.timeline());
                for (boolean ok = c.get(Keys.timelineLsn(step.timeline(), fromExclusive.plus(1)), GetOp.MDB_SET_RANGE);
                     ok && Keys.hasPrefix(c.key(), prefix) && !Keys.lsnAt(c.key(), Keys.TL).isAfter(step.upTo());
                     ok = c.next()) {
                    out.add(Keys.lsnAt(c.key(), Keys.TL));
                }
            }
        }
        return List.copyOf(out);
    }

    /**
     * The last commit whose timestamp is at or before {@code time} (for "as of" time travel), on
     * the timeline or, below its branch point, its ancestors.
     */
    public Optional<CommitRecord> lastCommitAtOrBefore(TimelineId id, Instant time) {
        long micros = CommitRecord.toPgMicros(time);
        CommitRecord best = null;
        try (ReadTxn read = tables.read(); TableCursor c = tables.commits().openCursor(read.txn())) {
            Txn<byte[]> txn = read.txn();
            for (Lineage.Step step : timelines.lineage(txn, id, Lsn.of(Long.MAX_VALUE)).steps()) {
                byte[][] hit = c.floor(Keys.commit(step.timeline(), micros, Lsn.of(-1L)), Keys.TL);
                // skip commits beyond this step's branch point (a record end: one starting right there is after it)
                while (hit != null && !Keys.lsnAt(hit[0], Keys.TL + 8).isBefore(step.upTo())) {
                    hit = c.prev() && Keys.hasPrefix(c.key(), Keys.timeline(step.timeline()))
                            ? new byte[][] {c.key(), c.val()} : null;
                }
                if (hit != null) {
                    CommitRecord r = new CommitRecord(Keys.lsnAt(hit[0], Keys.TL + 8), Keys.commitMicrosAt(hit[0]));
                    if (best == null || r.pgMicros() > best.pgMicros()) {
                        best = r;
                    }
                }
            }
        }
        return Optional.ofNullable(best);
    }

    /**
     * The commits of the history that ends at {@code end} on timeline {@code id} (the timeline, then its
     * ancestors below their branch points) whose times lie in [{@code fromMicros}, {@code toMicros}),
     * newest first by commit time, at most {@code limit}.
     */
    public List<CommitRecord> commitsNewestFirst(TimelineId id, Lsn end, long fromMicros, long toMicros, int limit) {
        List<CommitRecord> found = new ArrayList<>();
        try (ReadTxn read = tables.read(); TableCursor c = tables.commits().openCursor(read.txn())) {
            Txn<byte[]> txn = read.txn();
            for (Lineage.Step step : timelines.lineage(txn, id, end).steps()) {
                byte[] prefix = Keys.timeline(step.timeline());
                byte[][] hit = c.floor(Keys.commit(step.timeline(), toMicros - 1, Lsn.of(-1L)), Keys.TL);
                int taken = 0;
                while (hit != null && taken < limit) {
                    long micros = Keys.commitMicrosAt(hit[0]);
                    if (micros < fromMicros) {
                        break;
                    }
                    Lsn lsn = Keys.lsnAt(hit[0], Keys.TL + 8);
                    if (lsn.isBefore(step.upTo())) {
                        found.add(new CommitRecord(lsn, micros));
                        taken++;
                    }
                    hit = c.prev() && Keys.hasPrefix(c.key(), prefix) ? new byte[][] {c.key(), c.val()} : null;
                }
            }
        }
        found.sort(java.util.Comparator.comparingLong(CommitRecord::pgMicros).reversed());
        return found.size() > limit ? new ArrayList<>(found.subList(0, limit)) : found;
    }

    /**
     * How far apart in time two commits may lie in the wrong order (by LSN) in the commit index: a
     * backend takes its commit timestamp just before inserting the record, so concurrent commits
     * interleave by microseconds; a second is far more than a descheduled backend takes.
     */
    static final long COMMIT_TIME_JITTER_MICROS = 1_000_000L;

    /**
     * The last commit in the history that ends at {@code end} (a record boundary): the commit with the
     * greatest LSN whose record starts before {@code end}, on the timeline or, below its branch point,
     * its ancestors. The commit index is ordered by time, which follows LSN order up to
     * {@link #COMMIT_TIME_JITTER_MICROS}: a bisection by time finds the neighbourhood in a few lookups,
     * a scan of that neighbourhood the commit.
     */
    public Optional<CommitRecord> lastCommitBefore(TimelineId id, Lsn end) {
        try (ReadTxn read = tables.read(); TableCursor c = tables.commits().openCursor(read.txn())) {
            Txn<byte[]> txn = read.txn();
            for (Lineage.Step step : timelines.lineage(txn, id, end).steps()) {
                // a child's commits all lie above its branch point: the first step with one has the last
                Optional<CommitRecord> found = lastCommitBefore(c, step.timeline(), step.upTo());
                if (found.isPresent()) {
                    return found;
                }
            }
        }
        return Optional.empty();
    }

    private static Optional<CommitRecord> lastCommitBefore(TableCursor c, TimelineId tl, Lsn end) {
        byte[] prefix = Keys.timeline(tl);
        if (!c.get(Keys.commit(tl, Long.MIN_VALUE, Lsn.INVALID), GetOp.MDB_SET_RANGE) || !Keys.hasPrefix(c.key(), prefix)) {
            return Optional.empty(); // no commits on this timeline
        }
        long oldest = Keys.commitMicrosAt(c.key());
        byte[] newestKey = c.floor(Keys.commit(tl, Long.MAX_VALUE, Lsn.of(-1L)), Keys.TL)[0];
        long newest = Keys.commitMicrosAt(newestKey);
        // Bisect while the last commit at or before lo starts before end (or lo is the oldest) and the one at hi does not.
        long lo = oldest;
        long loCommit = oldest; // the time of that last commit at or before lo: the answer may be it
        long hi = newest;
        if (Keys.lsnAt(newestKey, Keys.TL + 8).isBefore(end)) {
            lo = loCommit = newest;
        }
        while (hi - lo > COMMIT_TIME_JITTER_MICROS) {
            long mid = lo + (hi - lo) / 2;
            byte[] at = c.floor(Keys.commit(tl, mid, Lsn.of(-1L)), Keys.TL)[0]; // mid >= oldest: there is one
            if (Keys.lsnAt(at, Keys.TL + 8).isBefore(end)) {
                lo = mid;
                loCommit = Keys.commitMicrosAt(at);
            } else {
                hi = mid;
            }
        }
        CommitRecord best = null;
        long to = hi + COMMIT_TIME_JITTER_MICROS;
        for (boolean ok = c.get(Keys.commit(tl, loCommit - COMMIT_TIME_JITTER_MICROS, Lsn.INVALID), GetOp.MDB_SET_RANGE);
             ok && Keys.hasPrefix(c.key(), prefix) && Keys.commitMicrosAt(c.key()) <= to; ok = c.next()) {
            Lsn lsn = Keys.lsnAt(c.key(), Keys.TL + 8);
            if (lsn.isBefore(end) && (best == null || lsn.isAfter(best.recordLsn()))) {
                best = new CommitRecord(lsn, Keys.commitMicrosAt(c.key()));
            }
        }
        return Optional.ofNullable(best);
    }
}
