package dev.zenith.storage.gc;

import dev.zenith.storage.lmdb.Keys;
import dev.zenith.storage.lmdb.Table;
import dev.zenith.storage.lmdb.TableCursor;
import dev.zenith.storage.lmdb.Tables;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.storage.wal.WalPositions;
import dev.zenith.wal.Lsn;
import org.lmdbjava.GetOp;
import org.lmdbjava.Txn;

import java.util.Arrays;

/**
 * One timeline's entries below a horizon, table by table, in the caller's transaction: WAL chunks, entries
 * keyed by LSN, superseded history of the page index, commit times, superseded page versions. With
 * {@code apply} false they are only counted.
 */
final class HorizonTrim {
    private final Tables tables;

    HorizonTrim(Tables tables) {
        this.tables = tables;
    }

    /** Whole chunks that end at or before the horizon; the timeline's WAL then starts at the next one. */
    long dropWalBelow(Txn<byte[]> txn, TimelineId id, Lsn horizon, boolean apply) {
        long freed = 0;
        Lsn newStart = null;
        try (TableCursor c = tables.walChunks().openCursor(txn)) {
            byte[] prefix = Keys.timeline(id);
            for (boolean ok = c.get(prefix, GetOp.MDB_SET_RANGE); ok && Keys.hasPrefix(c.key(), prefix); ok = c.next()) {
                Lsn start = Keys.lsnAt(c.key(), Keys.TL);
                Lsn end = start.plus(c.valueLength());
                if (end.isAfter(horizon)) {
                    newStart = start;
                    break;
                }
                freed += c.valueLength();
                if (apply) {
                    c.delete();
                }
            }
        }
        byte[] state = tables.walState().get(txn, Keys.timeline(id));
        if (apply && freed > 0 && state != null && newStart != null) {
            WalPositions p = WalPositions.decode(state);
            tables.walState().put(txn, Keys.timeline(id), new WalPositions(newStart, p.end(), p.lastRecordEnd()).encode());
        }
        return freed;
    }

    /** Entries keyed (timeline, LSN, ...) with LSN below {@code limit}. */
    int dropKeysBelow(Txn<byte[]> txn, Table dbi, TimelineId id, Lsn limit, int lsnOffset,
                              boolean apply) {
        int n = 0;
        try (TableCursor c = dbi.openCursor(txn)) {
            byte[] prefix = Keys.timeline(id);
            for (boolean ok = c.get(prefix, GetOp.MDB_SET_RANGE); ok && Keys.hasPrefix(c.key(), prefix); ok = c.next()) {
                if (!Keys.lsnAt(c.key(), lsnOffset).isBefore(limit)) {
                    break;
                }
                if (apply) {
                    c.delete();
                }
                n++;
            }
        }
        return n;
    }

    /**
     * The block-change entries ({@code changes_by_lsn}) keyed below {@code limit} but the last: an entry holds one
     * append's changes keyed by its first record, so the last one below the limit may hold changes above it, which
     * a question starting there finds through that entry (the floor of its start). Keys only: a value may be evicted.
     */
    int dropChangesBelow(Txn<byte[]> txn, TimelineId id, Lsn limit, boolean apply) {
        if (limit.value() == 0) {
            return 0;
        }
        byte[] last;
        try (TableCursor c = tables.changesByLsn().openCursor(txn)) {
            last = c.floorKey(Keys.timelineLsn(id, limit.plus(-1)), Keys.TL);
        }
        return last == null ? 0 : dropKeysBelow(txn, tables.changesByLsn(), id, Keys.lsnAt(last, Keys.TL), Keys.TL, apply);
    }

    /**
     * Entries keyed (group, LSN) below {@code limit} that a newer entry of the same group below it
     * supersedes, and those {@code unasked} (by value) below it.
     */
    int dropHistoryBelow(Txn<byte[]> txn, Table table, TimelineId id, Lsn limit, int groupLength,
                                 java.util.function.Predicate<byte[]> unasked, boolean apply) {
        int n = 0;
        try (TableCursor c = table.openCursor(txn)) {
            byte[] prefix = Keys.timeline(id);
            byte[] previous = null; // the group's newest entry below the limit so far
            for (boolean ok = c.get(prefix, GetOp.MDB_SET_RANGE); ok && Keys.hasPrefix(c.key(), prefix); ok = c.next()) {
                byte[] key = c.key();
                if (!Keys.lsnAt(key, groupLength).isBefore(limit)) {
                    previous = null;
                    continue;
                }
                if (unasked.test(c.val())) {
                    n++;
                    if (apply) {
                        c.delete(); // LMDB's next step from a deleted entry is the entry after it
                    }
                    continue;
                }
                if (previous != null && Arrays.equals(key, 0, groupLength, previous, 0, groupLength)) {
                    n++;
                    if (apply) {
                        if (!c.get(previous, GetOp.MDB_SET_KEY)) {
                            throw new IllegalStateException("lost the cursor position while collecting the page index");
                        }
                        c.delete();
                        if (!c.get(key, GetOp.MDB_SET_KEY)) {
                            throw new IllegalStateException("lost the cursor position while collecting the page index");
                        }
                    }
                }
                previous = key;
            }
        }
        return n;
    }

    /** The commit-time index is ordered by time; its LSN follows it. */
    int dropCommitsBelow(Txn<byte[]> txn, TimelineId id, Lsn limit, boolean apply) {
        int n = 0;
        try (TableCursor c = tables.commits().openCursor(txn)) {
            byte[] prefix = Keys.timeline(id);
            for (boolean ok = c.get(prefix, GetOp.MDB_SET_RANGE); ok && Keys.hasPrefix(c.key(), prefix); ok = c.next()) {
                if (Keys.lsnAt(c.key(), Keys.TL + 8).isBefore(limit)) {
                    if (apply) {
                        c.delete();
                    }
                    n++;
                }
            }
        }
        return n;
    }

    /**
     * Of each block's versions at or below {@code image}, only the newest can still be read (by that
     * image or later ones); the older ones go. Returns {versions, stored bytes}.
     */
    long[] dropSupersededVersions(Txn<byte[]> txn, TimelineId id, Lsn image, boolean apply) {
        long n = 0;
        long bytes = 0;
        try (TableCursor c = tables.pages().openCursor(txn)) {
            byte[] prefix = Keys.timeline(id);
            byte[] previousBlock = null;
            boolean previousAtOrBelow = false;
            int previousSize = 0;
            for (boolean ok = c.get(prefix, GetOp.MDB_SET_RANGE); ok && Keys.hasPrefix(c.key(), prefix); ok = c.next()) {
                byte[] key = c.key();
                byte[] block = Arrays.copyOf(key, Keys.BLOCK_PREFIX);
                boolean atOrBelow = !Keys.lsnAt(key, Keys.BLOCK_PREFIX).isAfter(image);
                int size = c.valueLength();
                if (atOrBelow && previousAtOrBelow && Arrays.equals(block, previousBlock)) {
                    // the previous entry (same block, older, also at or below) is superseded by this one
                    n++;
                    bytes += previousSize;
                    if (apply) {
                        c.prev();
                        c.delete();
                        if (!c.get(key, GetOp.MDB_SET_KEY)) {
                            throw new IllegalStateException("lost the cursor position while collecting page versions");
                        }
                    }
                }
                previousBlock = block;
                previousAtOrBelow = atOrBelow;
                previousSize = size;
            }
        }
        return new long[] {n, bytes};
    }
}
