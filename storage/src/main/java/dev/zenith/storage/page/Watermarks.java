package dev.zenith.storage.page;

import dev.zenith.storage.failure.StoreCorruptException;
import dev.zenith.storage.lmdb.Keys;
import dev.zenith.storage.lmdb.TableCursor;
import dev.zenith.storage.lmdb.Tables;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.storage.timeline.TimelineStore;
import dev.zenith.wal.Lsn;
import org.lmdbjava.GetOp;
import org.lmdbjava.Txn;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * Background materialization's progress per timeline (docs/page-versions.md, "Background
 * materialization"): each step says that at {@code target} (the last record end at or before an
 * anchor's redo point) every block of the timeline has an exact stored version, the newest at or
 * below it. A step's pages and the step itself are committed in one LMDB transaction, so a crash
 * leaves either both or neither. The newest step is the timeline's watermark. Blocking, thread-safe.
 */
public final class Watermarks {
    /** Every block has an exact version at {@code target}; replay from the anchor whose redo point is {@code redoPoint} may start from them. */
    public record Step(Lsn redoPoint, Lsn target) {
    }

    private final Tables tables;
    private final TimelineStore timelines;

    public Watermarks(Tables tables, TimelineStore timelines) {
        this.tables = tables;
        this.timelines = timelines;
    }

    /** The timeline's steps, oldest first. */
    public List<Step> steps(TimelineId id) {
        List<Step> out = new ArrayList<>();
        try (Txn<byte[]> txn = tables.read(); TableCursor c = tables.materialized().openCursor(txn)) {
            byte[] prefix = Keys.timeline(id);
            for (boolean ok = c.get(prefix, GetOp.MDB_SET_RANGE); ok && Keys.hasPrefix(c.key(), prefix); ok = c.next()) {
                out.add(step(c.key(), c.val()));
            }
        }
        return out;
    }

    /** The newest step: the watermark. */
    public Optional<Step> watermark(TimelineId id) {
        try (Txn<byte[]> txn = tables.read(); TableCursor c = tables.materialized().openCursor(txn)) {
            byte[][] hit = c.floor(Keys.timelineLsn(id, Lsn.of(-1L)), Keys.TL);
            return hit == null ? Optional.empty() : Optional.of(step(hit[0], hit[1]));
        }
    }

    /**
     * Stores a step's page versions (keeping versions already stored under the same keys, see
     * {@link #putRunPages}) and the step in one durable transaction. A step below the current
     * watermark is refused (two writers raced; the later one lost).
     */
    public void commit(TimelineId id, List<PageWrite> pages, Step step) {
        try (StepWriter w = stepWriter(id)) {
            pages.forEach(w::put);
            w.commit(step);
        }
    }

    /**
     * A step written as its pages come (a run hands them out one at a time, after all are verified):
     * the write transaction opens at the first page, so nothing holds LMDB's writer while PostgreSQL
     * replays, and memory holds one page, not the interval's. Closed without {@link StepWriter#commit},
     * it stores nothing. Use it on one thread (LMDB write transactions belong to theirs).
     */
    public StepWriter stepWriter(TimelineId id) {
        return new StepWriter(id);
    }

    /** See {@link #stepWriter}. */
    public final class StepWriter implements AutoCloseable {
        private final TimelineId id;
        private Txn<byte[]> txn;
        private int pages;

        private StepWriter(TimelineId id) {
            this.id = id;
        }

        public void put(PageWrite w) {
            if (txn == null) {
                txn = tables.write();
                timelines.require(txn, id);
            }
            putKeepingExisting(txn, List.of(w));
            pages++;
        }

        /** Pages put so far. */
        public int pages() {
            return pages;
        }

        public void commit(Step step) {
            if (txn == null) {
                txn = tables.write();
                timelines.require(txn, id);
            }
            try (TableCursor c = tables.materialized().openCursor(txn)) {
                byte[][] hit = c.floor(Keys.timelineLsn(id, Lsn.of(-1L)), Keys.TL);
                if (hit != null && !step(hit[0], hit[1]).target().isBefore(step.target())) {
                    throw new IllegalStateException("timeline " + id + " is materialized up to "
                            + step(hit[0], hit[1]).target() + " already, not below " + step.target());
                }
            }
            byte[] value = new byte[8];
            Keys.putLong(value, 0, step.target().value());
            tables.materialized().put(txn, Keys.timelineLsn(id, step.redoPoint()), value);
            txn.commit();
        }

        @Override
        public void close() {
            if (txn != null) {
                txn.close();
                txn = null;
            }
        }
    }

    /**
     * Stores versions a redo run made, in one durable transaction, keeping any version already stored
     * under the same key (the same LSN: an image's page may carry hint bits redo does not set, and
     * the image's is what the cluster's own files held).
     */
    public void putRunPages(List<PageWrite> pages) {
        try (Txn<byte[]> txn = tables.write()) {
            putKeepingExisting(txn, pages);
            txn.commit();
        }
    }

    private void putKeepingExisting(Txn<byte[]> txn, List<PageWrite> pages) {
        Set<TimelineId> checked = new HashSet<>();
        for (PageWrite w : pages) {
            if (checked.add(w.timeline())) {
                timelines.require(txn, w.timeline());
            }
            byte[] key = Keys.page(w.timeline(), w.rel(), w.block(), w.lsn());
            if (tables.pages().get(txn, key) == null) {
                tables.pages().put(txn, key, PageCodec.encode(w.page()));
            }
        }
    }

    private static Step step(byte[] key, byte[] value) {
        if (value.length != 8) {
            throw new StoreCorruptException("a materialization step of timeline " + Keys.timelineOf(key) + " has "
                    + value.length + " bytes, not 8");
        }
        return new Step(Keys.lsnAt(key, Keys.TL), Keys.lsnAt(value, 0));
    }
}
