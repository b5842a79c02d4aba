package dev.zenith.storage.index;

import dev.zenith.storage.lmdb.ColdValues;
import dev.zenith.storage.lmdb.EvictedValueException;
import dev.zenith.storage.lmdb.Keys;
import dev.zenith.storage.lmdb.ReadCursors;
import dev.zenith.storage.lmdb.TableCursor;
import dev.zenith.storage.lmdb.Tables;
import dev.zenith.storage.timeline.Lineage;
import dev.zenith.storage.timeline.Timeline;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.storage.timeline.TimelineStore;
import dev.zenith.storage.wal.BlockChanges;
import dev.zenith.storage.wal.BlockRef;
import dev.zenith.storage.wal.WalLog;
import dev.zenith.wal.ForkNumber;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.RelTag;
import dev.zenith.wal.change.DatabaseDir;
import dev.zenith.wal.change.PageChange;
import dev.zenith.wal.segment.WalGeometry;
import org.lmdbjava.GetOp;
import dev.zenith.storage.lmdb.ReadTxn;
import org.lmdbjava.Txn;

import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;

/**
 * The page index's questions, per timeline along its lineage (docs/page-versions.md): has a block
 * changed in (a, b], its last change at or before b, whether a stored version is exact at X, a fork's
 * size and existence and a database's existence at X. Each is a seek or a floor per lineage step.
 * Entries are keyed by the MAXALIGNed end of the record (what redo stamps as pd_lsn), so an LSN X
 * asked about (a record end) is compared as MAXALIGN(X).
 *
 * <p>Sizes and existence need the index written up to X: a question beyond the watermark has the
 * {@link PageIndexer} catch up first (it can reach the last record stored), and one it cannot answer
 * (below the timeline's first image, before the indexer ever ran) is an {@link IndexNotReadyException}.
 * Change questions whose range passes the watermark also read the packed per-append entries above it
 * ({@code changes_by_lsn}, written with the WAL), conservatively: those name every block reference
 * (hint-only ones counted as changes) but not the map pages or copied files changed without one, so
 * for visibility-map blocks the indexer catches up instead. Blocking, thread-safe.
 */
public final class PageIndex {
    /** A tombstone's marker among floor results. */
    private static final OptionalLong GONE = OptionalLong.empty();

    private final Tables tables;
    private final TimelineStore timelines;
    private final WalLog wal;
    private final PageIndexer indexer;
    /** Per timeline, an LSN up to which {@link #covers} is known true. */
    private final Map<TimelineId, Lsn> coveredUpTo = new ConcurrentHashMap<>();
    private static final int COVERED_REMEMBERED = 1024;
    /**
     * Fork sizes read at LSNs the index is settled at (its watermark past them: no entry at or below them is written
     * any more), per timeline and LSN: a compute or a pagebench reading at one fixed LSN asks them for every page.
     */
    private final Map<SizesAt, Map<RelTag, OptionalLong>> settledSizes = new ConcurrentHashMap<>();
    private static final int SETTLED_LSNS_REMEMBERED = 16;
    private static final int SETTLED_FORKS_REMEMBERED = 4096;

    private record SizesAt(TimelineId id, Lsn at) {
    }

    /** Change listings that walked every block of the index (the range not held by LSN, or asked to). */
    private final LongAdder walks = new LongAdder();

    public PageIndex(Tables tables, TimelineStore timelines, WalLog wal, PageIndexer indexer) {
        this.tables = tables;
        this.timelines = timelines;
        this.wal = wal;
        this.indexer = indexer;
    }

    /** The writer of this index. */
    public PageIndexer indexer() {
        return indexer;
    }

    /** Where the timeline's own index is written up to (the end of the last record indexed), if it was started. */
    public Optional<Lsn> watermark(TimelineId id) {
        try (ReadTxn read = tables.read()) {
            Txn<byte[]> txn = read.txn();
            return Optional.ofNullable(watermark(tables, txn, id)).map(IndexWatermark::upTo);
        }
    }

    /** The index answers no question below {@code lsn} any more (garbage collection merged the history there). */
    public static void raiseBase(Tables tables, Txn<byte[]> txn, TimelineId id, Lsn lsn) {
        IndexWatermark w = watermark(tables, txn, id);
        if (w != null && w.base().isBefore(lsn)) {
            tables.indexState().put(txn, Keys.timeline(id), new IndexWatermark(lsn, w.upTo(), w.next()).encode());
        }
    }

    static IndexWatermark watermark(Tables tables, Txn<byte[]> txn, TimelineId id) {
        byte[] v = tables.indexState().get(txn, Keys.timeline(id));
        return v == null ? null : IndexWatermark.decode(v);
    }

    // ---- block changes

    /**
     * Whether a record redo applies (anything but hint-only) changed the block with an LSN in
     * (after, upTo]: one seek per lineage step, plus the packed entries above the watermark.
     */
    public boolean changedIn(TimelineId id, RelTag rel, int block, Lsn after, Lsn upTo) {
        if (!after.isBefore(upTo)) {
            return false;
        }
        if (rel.fork() == ForkNumber.VISIBILITY_MAP) {
            caughtUp(id, upTo); // map bits cleared without a block reference are only in the index
        }
        try {
            // once per GetPage that is not in an image's window: a reused read transaction
            return tables.reading(txn -> changedIn(txn, id, rel, block, after, upTo));
        } catch (EvictedChangesException e) {
            // the packed entries above the watermark were evicted (not downloaded inside the read): the index catches
            // up to upTo, then answers alone
            indexer.catchUp(id, upTo);
            return tables.reading(txn -> changedIn(txn, id, rel, block, after, upTo));
        }
    }

    /**
     * {@link #changedIn(TimelineId, RelTag, int, Lsn, Lsn)} in the caller's read transaction, without catching
     * the index up first (a caller asking about a visibility-map block has it catch up to {@code upTo} before).
     * Above the watermark, a packed entry evicted to S3 is not downloaded (inside the read transaction): the index
     * cannot tell then, an {@link IndexNotReadyException}.
     */
    public boolean changedIn(Txn<byte[]> txn, TimelineId id, RelTag rel, int block, Lsn after, Lsn upTo) {
        return at(txn, id, upTo).changedIn(rel, block, after);
    }

    /**
     * {@link #changedIn(Txn, TimelineId, RelTag, int, Lsn, Lsn)} with the lineage and indexed end at {@code upTo},
     * positioning {@code c} (a cursor on block_changes in {@code txn}).
     */
    private boolean changedIn(Txn<byte[]> txn, TableCursor c, TimelineId id, Lineage lineage, Lsn indexed, RelTag rel,
                              int block, Lsn after, Lsn upTo) {
        if (!after.isBefore(upTo)) {
            return false;
        }
        for (Lineage.Step step : lineage.steps()) {
            Lsn bound = aligned(Lsn.min(step.upTo(), indexed));
            if (!aligned(after).isBefore(bound)) {
                continue;
            }
            byte[] prefix = Keys.page(step.timeline(), rel, block, Lsn.INVALID);
            for (boolean ok = c.get(Keys.page(step.timeline(), rel, block, aligned(after).plus(1)), GetOp.MDB_SET_RANGE);
                 ok && Keys.hasPrefix(c.key(), prefix, Keys.BLOCK_PREFIX)
                         && !Keys.lsnAt(c.key(), Keys.BLOCK_PREFIX).isAfter(bound); ok = c.next()) {
                if (counts(c.val())) {
                    return true;
                }
            }
        }
        return indexed.isBefore(upTo) && changedAbove(txn, id, rel, block, Lsn.max(after, indexed), upTo);
    }

    /** The last record redo applies that changed the block, at or before {@code atOrBefore} (its aligned end). */
    public Optional<Lsn> lastChange(TimelineId id, RelTag rel, int block, Lsn atOrBefore) {
        caughtUp(id, atOrBefore);
        try (ReadTxn read = tables.read(); TableCursor c = tables.blockChanges().openCursor(read.txn())) {
            Txn<byte[]> txn = read.txn();
            requireCovered(txn, id, atOrBefore);
            for (Lineage.Step step : timelines.lineage(txn, id, atOrBefore).steps()) {
                byte[][] hit = c.floor(Keys.page(step.timeline(), rel, block, aligned(step.upTo())), Keys.BLOCK_PREFIX);
                while (hit != null && !counts(hit[1])) {
                    hit = c.prev() && Keys.hasPrefix(c.key(), hit[0], Keys.BLOCK_PREFIX) ? new byte[][] {c.key(), c.val()} : null;
                }
                if (hit != null) {
                    return Optional.of(Keys.lsnAt(hit[0], Keys.BLOCK_PREFIX));
                }
            }
            return Optional.empty();
        }
    }

    /**
     * Every block that a record redo applies changed with an LSN in (after, upTo] along the timeline's
     * lineage (a branch's first materialization step starts from its parent's base, below the branch
     * point), with its last such change (aligned end): the wanted set of a materialization step
     * and each version's key, one seek per block of the index (copied files of a CREATE DATABASE by FILE_COPY and
     * map pages cleared without a reference included). The index is caught up to {@code upTo} first.
     */
    public Map<BlockRef, Lsn> changedBlocks(TimelineId id, Lsn after, Lsn upTo) {
        return changedBlocks(id, after, upTo, -1);
    }

    /**
     * {@link #changedBlocks}'s answer from the range's side of the LSN-ordered {@code changes_by_lsn}
     * ({@link ChangedBlocks}), each block then checked with one seek: the cost follows the WAL in the range, not every
     * block the timeline's index holds (a ready directory brought forward over a few records). Where that side does
     * not hold the range (below an index's base, or an entry evicted to S3: nothing is downloaded inside the read),
     * or the range holds more than {@code maxReferences} block references (a reference read costs about a tenth of a
     * block walked), every block is walked instead.
     */
    public Map<BlockRef, Lsn> changedBlocksListed(TimelineId id, Lsn after, Lsn upTo, long maxReferences) {
        return changedBlocks(id, after, upTo, maxReferences);
    }

    /** Listed by LSN up to {@code maxReferences} references in the range (-1: walked). */
    private Map<BlockRef, Lsn> changedBlocks(TimelineId id, Lsn after, Lsn upTo, long maxReferences) {
        caughtUp(id, upTo);
        Map<BlockRef, Lsn> out = new HashMap<>();
        Lsn from = aligned(after);
        try (ReadTxn read = tables.read(); TableCursor c = tables.blockChanges().openCursor(read.txn())) {
            Txn<byte[]> txn = read.txn();
            requireCovered(txn, id, upTo);
            Lineage lineage = timelines.lineage(txn, id, upTo);
            Set<BlockRef> listed = maxReferences < 0 ? null
                    : new ChangedBlocks(tables, timelines, txn, lineage).candidates(after, upTo, maxReferences);
            if (listed != null) {
                for (BlockRef b : listed) {
                    Lsn last = lastChangeIn(c, lineage, b, from, upTo);
                    if (last != null) {
                        out.put(b, last);
                    }
                }
                return out;
            }
            walks.increment();
            // the newest step first: a block's last change there wins over its parent's
            for (Lineage.Step step : lineage.steps()) {
                Lsn to = aligned(Lsn.min(upTo, step.upTo()));
                if (from.isBefore(to)) {
                    changedBlocks(c, step.timeline(), from, to, out);
                }
            }
        }
        return out;
    }

    /** How many change listings walked every block of the index since the store opened (for tests and logs). */
    public long walks() {
        return walks.sum();
    }

    /** The block's last counted change in (from, upTo] over the lineage, the newest step first; null if none. */
    private static Lsn lastChangeIn(TableCursor c, Lineage lineage, BlockRef b, Lsn from, Lsn upTo) {
        for (Lineage.Step step : lineage.steps()) {
            Lsn to = aligned(Lsn.min(upTo, step.upTo()));
            if (!from.isBefore(to)) {
                continue;
            }
            byte[] prefix = Keys.page(step.timeline(), b.rel(), b.block(), Lsn.INVALID);
            Lsn last = null;
            for (boolean ok = c.get(Keys.page(step.timeline(), b.rel(), b.block(), from.plus(1)), GetOp.MDB_SET_RANGE);
                 ok && Keys.hasPrefix(c.key(), prefix, Keys.BLOCK_PREFIX)
                         && !Keys.lsnAt(c.key(), Keys.BLOCK_PREFIX).isAfter(to); ok = c.next()) {
                if (counts(c.val())) {
                    last = Keys.lsnAt(c.key(), Keys.BLOCK_PREFIX);
                }
            }
            if (last != null) {
                return last;
            }
        }
        return null;
    }

    /** {@link #changedBlocks} in one timeline's own entries, for blocks not in {@code out} yet. */
    private static void changedBlocks(TableCursor c, TimelineId id, Lsn from, Lsn to, Map<BlockRef, Lsn> out) {
        byte[] prefix = Keys.timeline(id);
        boolean ok = c.get(prefix, GetOp.MDB_SET_RANGE);
        while (ok && Keys.hasPrefix(c.key(), prefix)) {
            byte[] block = java.util.Arrays.copyOf(c.key(), Keys.PAGE);
            Keys.putLong(block, Keys.BLOCK_PREFIX, from.value() + 1);
            Lsn last = null;
            for (ok = c.get(block, GetOp.MDB_SET_RANGE); ok && Keys.hasPrefix(c.key(), block, Keys.BLOCK_PREFIX)
                    && !Keys.lsnAt(c.key(), Keys.BLOCK_PREFIX).isAfter(to); ok = c.next()) {
                if (counts(c.val())) {
                    last = Keys.lsnAt(c.key(), Keys.BLOCK_PREFIX);
                }
            }
            if (last != null) {
                out.putIfAbsent(new BlockRef(Keys.relAt(block), Keys.getInt(block, Keys.TL + 13)), last);
            }
            if (ok && Keys.hasPrefix(c.key(), block, Keys.BLOCK_PREFIX)) { // on to the next block
                Keys.putLong(block, Keys.BLOCK_PREFIX, -1L);
                ok = c.get(block, GetOp.MDB_SET_RANGE);
            }
        }
    }

    /**
     * Whether the version of the block stored under {@code version} (the LSN from which its contents
     * hold) is the block at {@code at}: no change redo applies in (version, at].
     */
    public boolean exactAt(TimelineId id, RelTag rel, int block, Lsn version, Lsn at) {
        return !changedIn(id, rel, block, version, at);
    }

    private static boolean counts(byte[] flags) {
        return flags.length != 1 || (flags[0] & PageChange.HINT_ONLY) == 0;
    }

    /**
     * The packed entries of records that start in [from, upTo) (so end in (from, upTo]: both are record
     * boundaries) name the block: a block reference there, of any kind.
     */
    private boolean changedAbove(Txn<byte[]> txn, TimelineId id, RelTag rel, int block, Lsn from, Lsn upTo) {
        try {
            return ColdValues.withoutFetching(() -> changedAboveHeld(txn, id, rel, block, from, upTo));
        } catch (EvictedValueException e) {
            throw new EvictedChangesException("the index of " + id + " is written up to " + from + " and the block changes"
                    + " after it are evicted (" + e.getMessage() + "): it cannot tell up to " + upTo + " without catching up");
        }
    }

    /** {@link #changedAbove} where every entry read is held here (an evicted one: {@link EvictedValueException}). */
    private boolean changedAboveHeld(Txn<byte[]> txn, TimelineId id, RelTag rel, int block, Lsn from, Lsn upTo) {
        boolean[] found = {false};
        try (TableCursor c = tables.changesByLsn().openCursor(txn)) {
            for (Lineage.Step step : timelines.lineage(txn, id, upTo).steps()) {
                byte[] prefix = Keys.timeline(step.timeline());
                byte[][] first = c.floor(Keys.timelineLsn(step.timeline(), from), Keys.TL);
                boolean ok = first != null || c.get(Keys.timelineLsn(step.timeline(), Lsn.INVALID), GetOp.MDB_SET_RANGE);
                for (; ok && Keys.hasPrefix(c.key(), prefix) && Keys.lsnAt(c.key(), Keys.TL).isBefore(upTo); ok = c.next()) {
                    BlockChanges.unpack(c.val(), (start, r, b) -> {
                        if (b == block && !start.isBefore(from) && start.isBefore(Lsn.min(upTo, step.upTo())) && r.equals(rel)) {
                            found[0] = true;
                        }
                    });
                    if (found[0]) {
                        return true;
                    }
                }
            }
        }
        return false;
    }

    // ---- sizes and existence

    /** The fork's block count at {@code at}; empty when it does not exist. FSM forks are not tracked: ask elsewhere. */
    public OptionalLong nblocks(TimelineId id, RelTag rel, Lsn at) {
        caughtUp(id, at);
        // once per GetPage that is not in an image's window: a reused read transaction
        return tables.reading(txn -> nblocks(txn, id, rel, at));
    }

    /** {@link #nblocks(TimelineId, RelTag, Lsn)} in the caller's read transaction, where the index is caught up to {@code at}. */
    public OptionalLong nblocks(Txn<byte[]> txn, TimelineId id, RelTag rel, Lsn at) {
        return at(txn, id, at).nblocks(rel);
    }

    /** The fork's size over the lineage, positioning {@code c} (a cursor on rel_sizes). */
    private static OptionalLong nblocks(TableCursor c, Lineage lineage, RelTag rel) {
        for (Lineage.Step step : lineage.steps()) {
            byte[][] hit = c.floor(Keys.relSize(step.timeline(), rel, aligned(step.upTo())), Keys.TL + 13);
            if (hit != null) {
                return IndexValues.forkSizeOf(hit[1]);
            }
        }
        return GONE;
    }

    /**
     * The index at {@code at} in the caller's read transaction, for several questions about it (a GetPage outside
     * an image's window asks a fork's size, then whether its block changed since a version): the lineage and how
     * far the index reaches are read once, when first needed, not once per question (each a few LMDB reads).
     */
    public AtLsn at(Txn<byte[]> txn, TimelineId id, Lsn at) {
        return new AtLsn(txn, null, id, at);
    }

    /** As {@link #at(Txn, TimelineId, Lsn)}, positioning the cursors kept with a pooled read (none opened per question). */
    public AtLsn at(ReadCursors read, TimelineId id, Lsn at) {
        return new AtLsn(read.txn(), read, id, at);
    }

    /** {@link #at}'s answer. Used only inside its transaction, on one thread. */
    public final class AtLsn {
        private final Txn<byte[]> txn;
        /** Where its cursors come from; null: each question opens and closes its own. */
        private final ReadCursors cursors;
        private final TimelineId id;
        private final Lsn at;
        private Lineage lineage;
        private Lsn indexed;
        private boolean covered;

        private AtLsn(Txn<byte[]> txn, ReadCursors cursors, TimelineId id, Lsn at) {
            this.txn = txn;
            this.cursors = cursors;
            this.id = id;
            this.at = at;
        }

        /** As {@link PageIndex#nblocks(TimelineId, RelTag, Lsn)}; the index must be caught up to the LSN. */
        public OptionalLong nblocks(RelTag rel) {
            if (!covered) {
                indexed = requireCovered(txn, id, at);
                covered = true;
            }
            // after the checks above (the index's base: garbage collection raises it), a size read before at this LSN
            Map<RelTag, OptionalLong> settled = knownCovered(id, at) ? settledSizes(id, at) : null;
            OptionalLong n = settled == null ? null : settled.get(rel);
            if (n != null) {
                return n;
            }
            Lineage l = lineage();
            if (cursors != null) {
                n = PageIndex.nblocks(cursors.cursor(tables.relSizes()), l, rel);
            } else {
                try (TableCursor c = tables.relSizes().openCursor(txn)) {
                    n = PageIndex.nblocks(c, l, rel);
                }
            }
            if (settled != null && settled.size() < SETTLED_FORKS_REMEMBERED) {
                settled.put(rel, n);
            }
            return n;
        }

        /** As {@link PageIndex#changedIn(Txn, TimelineId, RelTag, int, Lsn, Lsn)} with {@code upTo} this LSN. */
        public boolean changedIn(RelTag rel, int block, Lsn after) {
            if (!after.isBefore(at)) {
                return false;
            }
            if (indexed == null) {
                indexed = indexedEnd(txn, id, at);
            }
            Lineage l = lineage();
            if (cursors != null) {
                return PageIndex.this.changedIn(txn, cursors.cursor(tables.blockChanges()), id, l, indexed, rel, block, after, at);
            }
            try (TableCursor c = tables.blockChanges().openCursor(txn)) {
                return PageIndex.this.changedIn(txn, c, id, l, indexed, rel, block, after, at);
            }
        }

        private Lineage lineage() {
            if (lineage == null) {
                lineage = timelines.lineage(txn, id, at);
            }
            return lineage;
        }
    }

    /**
     * Whether the index answers sizes at {@code at} without catching up (cheap: the common case of every question).
     * Once true for an LSN of a timeline it stays true for every LSN up to it (watermarks only move up; a branch's
     * index starts once its parent's reached the branch point), so that is remembered: a historical GetPage asks
     * again and again at LSNs far below the watermark, and each look at the store took a read transaction of its own.
     */
    public boolean covers(TimelineId id, Lsn at) {
        if (knownCovered(id, at)) {
            return true;
        }
        boolean covered = indexer.indexedAt(id, at);
        if (covered) {
            if (coveredUpTo.size() >= COVERED_REMEMBERED) {
                coveredUpTo.clear(); // dropped timelines' entries go too
            }
            coveredUpTo.merge(id, at, Lsn::max);
        }
        return covered;
    }

    /** Has the indexer catch up to {@code at}, unless {@link #covers} found it there already (no store read then). */
    private void caughtUp(TimelineId id, Lsn at) {
        if (!knownCovered(id, at)) {
            indexer.catchUp(id, at);
        }
    }

    private Map<RelTag, OptionalLong> settledSizes(TimelineId id, Lsn at) {
        SizesAt key = new SizesAt(id, at);
        Map<RelTag, OptionalLong> sizes = settledSizes.get(key);
        if (sizes == null) {
            if (settledSizes.size() >= SETTLED_LSNS_REMEMBERED) {
                settledSizes.clear(); // latest reads under writes ask at a new LSN after every commit
            }
            sizes = settledSizes.computeIfAbsent(key, k -> new ConcurrentHashMap<>());
        }
        return sizes;
    }

    private boolean knownCovered(TimelineId id, Lsn at) {
        Lsn known = coveredUpTo.get(id);
        return known != null && !at.isAfter(known);
    }

    public boolean exists(TimelineId id, RelTag rel, Lsn at) {
        return nblocks(id, rel, at).isPresent();
    }

    /** Whether the database's directory exists at {@code at}. */
    public boolean databaseExists(TimelineId id, int spcOid, int dbOid, Lsn at) {
        caughtUp(id, at);
        try (ReadTxn read = tables.read(); TableCursor c = tables.databases().openCursor(read.txn())) {
            Txn<byte[]> txn = read.txn();
            requireCovered(txn, id, at);
            for (Lineage.Step step : timelines.lineage(txn, id, at).steps()) {
                byte[][] hit = c.floor(Keys.database(step.timeline(), spcOid, dbOid, aligned(step.upTo())), Keys.TL + 8);
                if (hit != null) {
                    return IndexValues.databaseOf(hit[1]);
                }
            }
            return false;
        }
    }

    /**
     * The database directory's pg_filenode.map at {@code at} (the global one: spc pg_global, db 0), as the index
     * knows it: empty when the directory does not exist there, has no map yet (a CREATE DATABASE by WAL_LOG
     * writes it by a later record), or its entries predate relation maps in the index.
     */
    public Optional<byte[]> relationMap(TimelineId id, int spcOid, int dbOid, Lsn at) {
        caughtUp(id, at);
        try (ReadTxn read = tables.read()) {
            Txn<byte[]> txn = read.txn();
            requireCovered(txn, id, at);
            return Optional.ofNullable(relationMapAt(tables, txn, timelines.lineage(txn, id, at), spcOid, dbOid));
        }
    }

    /** The newest {@code databases} entry of the directory over the lineage: its map, or null. */
    static byte[] relationMapAt(Tables tables, Txn<byte[]> txn, Lineage lineage, int spcOid, int dbOid) {
        try (TableCursor c = tables.databases().openCursor(txn)) {
            for (Lineage.Step step : lineage.steps()) {
                byte[][] hit = c.floor(Keys.database(step.timeline(), spcOid, dbOid, aligned(step.upTo())), Keys.TL + 8);
                if (hit != null) {
                    return IndexValues.relationMapOf(hit[1]);
                }
            }
            return null;
        }
    }

    /** Every tracked fork of the database that exists at {@code at}, with its block count (a scan of its history). */
    public Map<RelTag, Long> forksOf(TimelineId id, int spcOid, int dbOid, Lsn at) {
        caughtUp(id, at);
        try (ReadTxn read = tables.read()) {
            Txn<byte[]> txn = read.txn();
            requireCovered(txn, id, at);
            Map<RelTag, Long> out = new HashMap<>();
            forksAt(tables, txn, timelines.lineage(txn, id, at), spcOid, dbOid, out, null);
            return out;
        }
    }

    /** Every tracked fork that exists at {@code at}, with its block count (a scan of the timeline's history). */
    public Map<RelTag, Long> forks(TimelineId id, Lsn at) {
        caughtUp(id, at);
        try (ReadTxn read = tables.read()) {
            Txn<byte[]> txn = read.txn();
            requireCovered(txn, id, at);
            Map<RelTag, Long> out = new HashMap<>();
            forksAt(tables, txn, timelines.lineage(txn, id, at), null, null, out, null);
            return out;
        }
    }

    /** The tracked forks with their block counts and the database directories at an LSN. */
    public record ForksAndDatabases(Map<RelTag, Long> forks, Set<DatabaseDir> databases) {
    }

    /**
     * {@link #forks} and the database directories that exist at {@code at}, from one scan of the history (a
     * directory built there needs both).
     */
    public ForksAndDatabases forksAndDatabases(TimelineId id, Lsn at) {
        caughtUp(id, at);
        try (ReadTxn read = tables.read()) {
            Txn<byte[]> txn = read.txn();
            requireCovered(txn, id, at);
            Map<RelTag, Long> forks = new HashMap<>();
            Set<DatabaseDir> databases = new HashSet<>();
            forksAt(tables, txn, timelines.lineage(txn, id, at), null, null, forks, databases);
            return new ForksAndDatabases(forks, databases);
        }
    }

    /**
     * The tracked forks (and database directories, when {@code databases} is not null) at each step's
     * bound, the newest entry over the steps winning: the state a lineage has at an LSN. Of one database,
     * or of all when {@code spcOid} is null.
     */
    static void forksAt(Tables tables, Txn<byte[]> txn, Lineage lineage, Integer spcOid, Integer dbOid,
                        Map<RelTag, Long> forks, Set<DatabaseDir> databases) {
        Set<RelTag> decided = new HashSet<>();
        Set<DatabaseDir> dirsDecided = new HashSet<>();
        for (Lineage.Step step : lineage.steps()) {
            Lsn bound = aligned(step.upTo());
            byte[] prefix = spcOid == null ? Keys.timeline(step.timeline()) : dbPrefix(step.timeline(), spcOid, dbOid);
            Map<RelTag, OptionalLong> newest = new HashMap<>();
            try (TableCursor c = tables.relSizes().openCursor(txn)) {
                for (boolean ok = c.get(prefix, GetOp.MDB_SET_RANGE); ok && Keys.hasPrefix(c.key(), prefix); ok = c.next()) {
                    if (!Keys.lsnAt(c.key(), Keys.TL + 13).isAfter(bound)) {
                        newest.put(Keys.relAt(c.key()), IndexValues.forkSizeOf(c.val())); // keys ascend by LSN per fork
                    }
                }
            }
            newest.forEach((rel, n) -> {
                if (decided.add(rel) && n.isPresent()) {
                    forks.put(rel, n.getAsLong());
                }
            });
            if (databases == null) {
                continue;
            }
            Map<DatabaseDir, Boolean> dirs = new HashMap<>();
            try (TableCursor c = tables.databases().openCursor(txn)) {
                for (boolean ok = c.get(prefix, GetOp.MDB_SET_RANGE); ok && Keys.hasPrefix(c.key(), prefix); ok = c.next()) {
                    if (!Keys.lsnAt(c.key(), Keys.TL + 8).isAfter(bound)) {
                        dirs.put(new DatabaseDir(Keys.getInt(c.key(), Keys.TL), Keys.getInt(c.key(), Keys.TL + 4)),
                                IndexValues.databaseOf(c.val()));
                    }
                }
            }
            dirs.forEach((dir, exists) -> {
                if (dirsDecided.add(dir) && exists) {
                    databases.add(dir);
                }
            });
        }
    }

    private static byte[] dbPrefix(TimelineId tl, int spcOid, int dbOid) {
        byte[] k = new byte[Keys.TL + 8];
        tl.copyTo(k, 0);
        Keys.putInt(k, Keys.TL, spcOid);
        Keys.putInt(k, Keys.TL + 4, dbOid);
        return k;
    }

    // ---- coverage

    /** How far the index answers for {@code at}'s owner timeline: its watermark, or where its stored records end when it has them all. */
    private Lsn indexedEnd(Txn<byte[]> txn, TimelineId id, Lsn at) {
        Timeline t = owner(txn, id, at);
        IndexWatermark w = watermark(tables, txn, t.id());
        Lsn reached = w == null ? null : reachedAt(w, at);
        return reached != null ? reached : indexedEnd(txn, t, w);
    }

    /**
     * When the watermark reaches {@code at} (the common case of every question), how far the index answers for it
     * without reading the WAL positions (two more LMDB reads per GetPage): at least {@code at}, as no record starts
     * in [upTo, at) (records start MAXALIGNed, at or after MAXALIGN(upTo) ≥ at), so no question about {@code at}
     * reads another answer from what {@link #indexedEnd(Txn, Timeline, IndexWatermark)} gives. Else null.
     */
    private static Lsn reachedAt(IndexWatermark w, Lsn at) {
        return aligned(at).isAfter(aligned(w.upTo())) ? null : Lsn.max(w.upTo(), at);
    }

    private Lsn indexedEnd(Txn<byte[]> txn, Timeline owner, IndexWatermark w) {
        if (w == null) {
            return Lsn.INVALID;
        }
        if (!reachesStoredEnd(txn, owner.id(), w)) {
            return w.upTo();
        }
        // no record ends in (upTo, the stored end] once the last stored record is indexed
        Lsn stored = wal.storedEnd(txn, owner.id());
        return stored == null ? w.upTo() : Lsn.max(w.upTo(), stored);
    }

    private boolean reachesStoredEnd(Txn<byte[]> txn, TimelineId id, IndexWatermark w) {
        Lsn last = wal.lastRecordEnd(txn, id);
        return last == null || !w.upTo().isBefore(last);
    }

    /** Refuses a question at {@code at} the index cannot answer; else how far it reaches ({@link #indexedEnd}). */
    private Lsn requireCovered(Txn<byte[]> txn, TimelineId id, Lsn at) {
        Timeline t = owner(txn, id, at);
        IndexWatermark w = watermark(tables, txn, t.id());
        if (w == null || at.isBefore(w.base())) {
            throw new IndexNotReadyException("the page index of timeline " + t.id() + " does not reach back to " + at
                    + (w == null ? " (not started: no image to start from yet)" : "; it starts at " + w.base()));
        }
        Lsn reached = reachedAt(w, at);
        if (reached != null) {
            return reached;
        }
        Lsn indexed = indexedEnd(txn, t, w);
        if (aligned(at).isAfter(aligned(indexed))) {
            throw new IndexNotReadyException("the page index of timeline " + t.id() + " is written up to " + w.upTo()
                    + ", not yet " + at);
        }
        return indexed;
    }

    /** The timeline whose own history holds {@code at}: below a branch point, the parent's. */
    private Timeline owner(Txn<byte[]> txn, TimelineId id, Lsn at) {
        Timeline t = timelines.known(txn, id);
        while (t.parent() != null && !at.isAfter(t.branchLsn())) {
            t = timelines.known(txn, t.parent());
        }
        return t;
    }

    static Lsn aligned(Lsn lsn) {
        return Lsn.of(WalGeometry.maxAlign(lsn.value()));
    }
}
