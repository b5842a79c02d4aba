package dev.zenith.storage.lmdb;

import org.lmdbjava.Env;
import org.lmdbjava.Txn;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;

/**
 * Reset read transactions kept for reuse: a short read renews one (mdb_txn_renew: the reader slot is kept
 * under MDB_NOTLS) instead of beginning a new one (a native allocation and a scan of the reader table under
 * its lock). A reset transaction pins no snapshot, so idle ones hold back no free pages. At most
 * {@link #MAX_IDLE} are kept: each holds one of the environment's reader slots. The cursors a read asked for
 * ({@link PooledRead#cursor}) stay with their transaction and are renewed with it (mdb_cursor_renew), so a
 * GetPage does not open and close one (LMDB's malloc and free, and lmdbjava's native key and value holders).
 */
final class ReadTxnPool {
    static final int MAX_IDLE = 16;
    private final Env<byte[]> env;
    /** Where a read is counted from before its transaction renews until it is reset ({@link OpenReads}). */
    private final OpenReads reads;
    private final ArrayDeque<PooledRead> idle = new ArrayDeque<>();
    private boolean closed;

    ReadTxnPool(Env<byte[]> env, OpenReads reads) {
        this.env = env;
        this.reads = reads;
    }

    /** {@code work} in a read transaction that must not escape it (nor its cursors: close them inside). */
    <T> T read(Function<Txn<byte[]>, T> work) {
        return readWithCursors(r -> work.apply(r.txn()));
    }

    /** As {@link #read}, with cursors kept with the transaction ({@link PooledRead#cursor}: not to be closed). */
    <T> T readWithCursors(Function<PooledRead, T> work) {
        PooledRead r = take();
        boolean reusable = false;
        try {
            T result = work.apply(r);
            reusable = true;
            return result;
        } finally {
            give(r, reusable);
        }
    }

    private PooledRead take() {
        PooledRead idleOne;
        synchronized (idle) {
            idleOne = idle.pollFirst();
        }
        OpenReads.Reading reading = idleOne == null ? new OpenReads.Reading() : idleOne.reading;
        return reads.open(reading, () -> idleOne == null ? new PooledRead(env.txnRead(), reading) : renewed(idleOne),
                r -> r.txn.getId());
    }

    private static PooledRead renewed(PooledRead r) {
        try {
            r.txn.renew();
            return r;
        } catch (RuntimeException e) {
            r.close(); // not READY: lmdbjava frees nothing native then; the slot returns with the environment
            throw e;
        }
    }

    /** Back to the pool reset, or closed (after a failure, when the pool is full or closed). */
    private void give(PooledRead r, boolean reusable) {
        try {
            if (reusable) {
                synchronized (idle) {
                    if (!closed && idle.size() < MAX_IDLE) {
                        r.reset();
                        idle.addFirst(r);
                        return;
                    }
                }
            }
            r.close();
        } finally {
            reads.ended(r.reading); // reset or closed: it holds no snapshot now
        }
    }

    /** Ends every idle transaction; call before the environment closes. */
    void close() {
        synchronized (idle) {
            closed = true;
            for (PooledRead r : idle) {
                r.txn.renew(); // lmdbjava's close aborts (frees the transaction and its slot) only a READY one
                r.close();
            }
            idle.clear();
        }
    }

    /** A pooled read transaction and the cursors kept with it; one thread's between take and give. */
    static final class PooledRead implements ReadCursors {
        private final Txn<byte[]> txn;
        /** This transaction counted among the open reads while lent out. */
        private final OpenReads.Reading reading;
        private final List<Table> tables = new ArrayList<>(1);
        private final List<TableCursor> cursors = new ArrayList<>(1);
        /** Whether each cursor was renewed for this use of the transaction (a reset one must be, before it moves). */
        private final List<Boolean> renewed = new ArrayList<>(1);

        private PooledRead(Txn<byte[]> txn, OpenReads.Reading reading) {
            this.txn = txn;
            this.reading = reading;
        }

        @Override
        public Txn<byte[]> txn() {
            return txn;
        }

        /** A cursor on {@code table} in this transaction, kept with it: the caller positions it and never closes it. */
        @Override
        public TableCursor cursor(Table table) {
            for (int i = 0; i < tables.size(); i++) {
                if (tables.get(i) == table) {
                    if (!renewed.get(i)) {
                        cursors.get(i).renew(txn);
                        renewed.set(i, true);
                    }
                    return cursors.get(i);
                }
            }
            TableCursor c = table.openCursor(txn);
            tables.add(table);
            cursors.add(c);
            renewed.add(true);
            return c;
        }

        private void reset() {
            txn.reset();
            renewed.replaceAll(r -> false);
        }

        /** Closes the cursors, then the transaction (read-only cursors may be closed whatever its state). */
        private void close() {
            cursors.forEach(TableCursor::close);
            txn.close();
        }
    }
}
