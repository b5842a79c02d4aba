package dev.zenith.storage.page;

import dev.zenith.storage.failure.StoreCorruptException;
import dev.zenith.storage.failure.StoreException;
import dev.zenith.storage.lmdb.CacheRoom;
import dev.zenith.storage.lmdb.Keys;
import dev.zenith.storage.lmdb.TableCursor;
import dev.zenith.storage.lmdb.Tables;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.storage.timeline.TimelineStore;
import dev.zenith.wal.Lsn;
import org.lmdbjava.GetOp;
import dev.zenith.storage.lmdb.ReadTxn;
import org.lmdbjava.Txn;

import dev.zenith.wal.ForkNumber;
import dev.zenith.wal.RelFileNode;
import dev.zenith.wal.RelTag;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Map;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * Background materialization's progress per timeline (docs/page-versions.md, "Background
 * materialization"): each step says that at {@code target} (the last record end at or before an
 * anchor's redo point) every block of the timeline has an exact stored version, the newest at or
 * below it. The step is committed with its last pages, after all the others: a crash leaves the
 * watermark where it was, and at most some of the step's versions stored, each exact at its own key
 * (as a GetPage redo run's are), which the step done again keeps. Under a cache bound a step's pages
 * go in transactions that fit ({@link CacheRoom#pagesPerTransaction}), each waiting for room first.
 * The newest step is the timeline's watermark. Blocking, thread-safe.
 */
public final class Watermarks {
    /**
     * Every block has an exact version at {@code target}; replay from the anchor whose redo point is {@code redoPoint}
     * may start from them. {@code freeSpaceMaps}: every free-space map fork's length at {@code target} as crash
     * recovery from the newest image below leaves it (the step's run made them, from the base's: docs/page-versions.md,
     * "Free-space maps"); null when not known (steps stored before they were kept).
     */
    public record Step(Lsn redoPoint, Lsn target, Map<RelTag, Long> freeSpaceMaps) {
        public Step {
            freeSpaceMaps = freeSpaceMaps == null ? null : Map.copyOf(freeSpaceMaps);
        }

        public Step(Lsn redoPoint, Lsn target) {
            this(redoPoint, target, null);
        }
    }

    /** A free-space map entry of a step's value: spc, db, rel (u32 each), fork (u8), blocks (u32). */
    private static final int FSM_ENTRY = 17;

    private final Tables tables;
    private final TimelineStore timelines;

    public Watermarks(Tables tables, TimelineStore timelines) {
        this.tables = tables;
        this.timelines = timelines;
    }

    /** The timeline's steps, oldest first. */
    public List<Step> steps(TimelineId id) {
        List<Step> out = new ArrayList<>();
        try (ReadTxn read = tables.read(); TableCursor c = tables.materialized().openCursor(read.txn())) {
            byte[] prefix = Keys.timeline(id);
            for (boolean ok = c.get(prefix, GetOp.MDB_SET_RANGE); ok && Keys.hasPrefix(c.key(), prefix); ok = c.next()) {
                out.add(step(c.key(), c.val()));
            }
        }
        return out;
    }

    /** The newest step: the watermark. */
    public Optional<Step> watermark(TimelineId id) {
        try (ReadTxn read = tables.read(); TableCursor c = tables.materialized().openCursor(read.txn())) {
            byte[][] hit = c.floor(Keys.timelineLsn(id, Lsn.of(-1L)), Keys.TL);
            return hit == null ? Optional.empty() : Optional.of(step(hit[0], hit[1]));
        }
    }

    /** How long a part of a step waits for room under the cache bound by default. */
    public static final Duration ROOM_WAIT = Duration.ofSeconds(30);

    /**
     * Stores a step's page versions (keeping versions already stored under the same keys, see
     * {@link #putRunPages}) and then the step. A step below the current watermark is refused (two
     * writers raced; the later one lost).
     */
    public void commit(TimelineId id, List<PageWrite> pages, Step step) {
        try (StepWriter w = stepWriter(id)) {
            pages.forEach(w::put);
            w.commit(step);
        }
    }

    /** {@link #stepWriter(TimelineId, Duration)} waiting {@link #ROOM_WAIT} for room. */
    public StepWriter stepWriter(TimelineId id) {
        return stepWriter(id, ROOM_WAIT);
    }

    /**
     * A step written as its pages come (a run hands them out one at a time, after all are verified):
     * the write transaction opens at the first page, so nothing holds LMDB's writer while PostgreSQL
     * replays, and memory holds one page, not the interval's. Unbounded, the pages and the step are
     * one transaction; under a cache bound, the pages go in parts of at most
     * {@link CacheRoom#pagesPerTransaction} (at the bound's floor, as many as fit under the admission limit:
     * {@link CacheRoom#admitUpTo}), each committed before the next waits (up to
     * {@code roomWait}, else a {@link StoreException}: the watermark stays) for room, the step with the
     * last. Closed without {@link StepWriter#commit}, it stores no step (and, unbounded, nothing). Use
     * it on one thread (LMDB write transactions belong to theirs).
     */
    public StepWriter stepWriter(TimelineId id, Duration roomWait) {
        return new StepWriter(id, roomWait);
    }

    /** See {@link #stepWriter}. */
    public final class StepWriter implements AutoCloseable {
        private final TimelineId id;
        private final Duration roomWait;
        private final CacheRoom room = tables.room();
        private final int perTransaction = room.pagesPerTransaction();
        /** Pages the open part may hold: under a bound, what its grant covers ({@link CacheRoom#admitUpTo}). */
        private int partPages = perTransaction;
        private Txn<byte[]> txn;
        /** The room the open part was admitted for, held until it commits. */
        private CacheRoom.Grant grant;
        private int pages;
        private int inTransaction;
        private int transactions;

        private StepWriter(TimelineId id, Duration roomWait) {
            this.id = id;
            this.roomWait = roomWait;
        }

        public void put(PageWrite w) {
            if (txn != null && inTransaction >= partPages) {
                txn.commit(); // a part: exact versions, no step yet
                txn = null;
                release();
            }
            begin(true);
            putKeepingExisting(txn, List.of(w));
            pages++;
            inTransaction++;
        }

        /** Pages put so far. */
        public int pages() {
            return pages;
        }

        /** LMDB transactions begun so far (the step's last one included once committed). */
        public int transactions() {
            return transactions;
        }

        public void commit(Step step) {
            begin(false);
            try (TableCursor c = tables.materialized().openCursor(txn)) {
                byte[][] hit = c.floor(Keys.timelineLsn(id, Lsn.of(-1L)), Keys.TL);
                if (hit != null && !step(hit[0], hit[1]).target().isBefore(step.target())) {
                    throw new IllegalStateException("timeline " + id + " is materialized up to "
                            + step(hit[0], hit[1]).target() + " already, not below " + step.target());
                }
            }
            tables.materialized().put(txn, Keys.timelineLsn(id, step.redoPoint()), encode(step));
            txn.commit();
            txn = null;
            release();
        }

        private void release() {
            if (grant != null) {
                grant.close();
                grant = null;
            }
            room.changed();
        }

        /** Opens the next transaction, if none is open: under a bound, for pages once room for a part is there. */
        private void begin(boolean forPages) {
            if (txn != null) {
                return;
            }
            if (forPages && perTransaction != Integer.MAX_VALUE) {
                // an eighth of the bound's worth of pages, or at its floor as many as fit under the admission limit
                grant = room.awaitRoomUpTo(CacheRoom.STORED_PAGE_BYTES, (long) perTransaction * CacheRoom.STORED_PAGE_BYTES,
                        roomWait, "materialization of timeline " + id + " (" + pages + " pages stored so far)");
                partPages = (int) Math.max(1, grant.granted() / CacheRoom.STORED_PAGE_BYTES);
            }
            txn = tables.write();
            timelines.require(txn, id);
            inTransaction = 0;
            transactions++;
        }

        @Override
        public void close() {
            if (txn != null) {
                txn.close();
                txn = null;
            }
            release();
        }
    }

    /**
     * Stores versions a redo run made, in one durable transaction, keeping any version already stored
     * under the same key (the same LSN: an image's page may carry hint bits redo does not set, and
     * the image's is what the cluster's own files held). Under a cache bound only while they keep the
     * store below its eviction threshold ({@link CacheRoom#keep}): they only save a later read a run.
     *
     * @return whether they were stored
     */
    public boolean putRunPages(List<PageWrite> pages) {
        CacheRoom.Grant granted = tables.room().keep((long) pages.size() * CacheRoom.STORED_PAGE_BYTES);
        if (granted == null) {
            return false;
        }
        try (granted; Txn<byte[]> txn = tables.write()) {
            putKeepingExisting(txn, pages);
            txn.commit();
        }
        return true;
    }

    private void putKeepingExisting(Txn<byte[]> txn, List<PageWrite> pages) {
        Set<TimelineId> checked = new HashSet<>();
        for (PageWrite w : pages) {
            if (checked.add(w.timeline())) {
                timelines.require(txn, w.timeline());
            }
            byte[] key = Keys.page(w.timeline(), w.rel(), w.block(), w.lsn());
            if (!tables.pages().contains(txn, key)) {
                tables.pages().put(txn, key, PageCodec.encode(w.page()));
            }
        }
    }

    /** The target (u64), then, when known, the free-space maps: a u32 count and the entries. */
    private static byte[] encode(Step step) {
        Map<RelTag, Long> fsm = step.freeSpaceMaps();
        byte[] value = new byte[8 + (fsm == null ? 0 : 4 + fsm.size() * FSM_ENTRY)];
        Keys.putLong(value, 0, step.target().value());
        if (fsm != null) {
            Keys.putInt(value, 8, fsm.size());
            int at = 12;
            for (Map.Entry<RelTag, Long> e : fsm.entrySet()) {
                RelTag rel = e.getKey();
                Keys.putInt(value, at, rel.node().spcOid());
                Keys.putInt(value, at + 4, rel.node().dbOid());
                Keys.putInt(value, at + 8, rel.node().relNode());
                value[at + 12] = (byte) rel.fork().id();
                Keys.putInt(value, at + 13, (int) (long) e.getValue());
                at += FSM_ENTRY;
            }
        }
        return value;
    }

    private static Step step(byte[] key, byte[] value) {
        int count = value.length >= 12 ? Keys.getInt(value, 8) : 0;
        if (value.length != 8 && (count < 0 || value.length != 12 + (long) count * FSM_ENTRY)) {
            throw new StoreCorruptException("a materialization step of timeline " + Keys.timelineOf(key) + " has "
                    + value.length + " bytes, not 8 or 12 plus its free-space maps");
        }
        Map<RelTag, Long> fsm = null;
        if (value.length > 8) {
            fsm = new HashMap<>();
            for (int at = 12; at < value.length; at += FSM_ENTRY) {
                fsm.put(new RelTag(new RelFileNode(Keys.getInt(value, at), Keys.getInt(value, at + 4), Keys.getInt(value, at + 8)),
                        ForkNumber.of(value[at + 12])), Integer.toUnsignedLong(Keys.getInt(value, at + 13)));
            }
        }
        return new Step(Keys.lsnAt(key, Keys.TL), Keys.lsnAt(value, 0), fsm);
    }
}
