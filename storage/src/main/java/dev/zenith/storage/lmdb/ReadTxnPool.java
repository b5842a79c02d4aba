package dev.zenith.storage.lmdb;

import org.lmdbjava.Env;
import org.lmdbjava.Txn;

import java.util.ArrayDeque;
import java.util.function.Function;

/**
 * Reset read transactions kept for reuse: a short read renews one (mdb_txn_renew: the reader slot is kept
 * under MDB_NOTLS) instead of beginning a new one (a native allocation and a scan of the reader table under
 * its lock). A reset transaction pins no snapshot, so idle ones hold back no free pages. At most
 * {@link #MAX_IDLE} are kept: each holds one of the environment's reader slots.
 */
final class ReadTxnPool {
    static final int MAX_IDLE = 16;
    private final Env<byte[]> env;
    private final ArrayDeque<Txn<byte[]>> idle = new ArrayDeque<>();
    private boolean closed;

    ReadTxnPool(Env<byte[]> env) {
        this.env = env;
    }

    /** {@code work} in a read transaction that must not escape it (nor its cursors: close them inside). */
    <T> T read(Function<Txn<byte[]>, T> work) {
        Txn<byte[]> txn = take();
        boolean reusable = false;
        try {
            T result = work.apply(txn);
            reusable = true;
            return result;
        } finally {
            give(txn, reusable);
        }
    }

    private Txn<byte[]> take() {
        Txn<byte[]> txn;
        synchronized (idle) {
            txn = idle.pollFirst();
        }
        if (txn == null) {
            return env.txnRead();
        }
        try {
            txn.renew();
            return txn;
        } catch (RuntimeException e) {
            txn.close(); // not READY: lmdbjava frees nothing native then; the slot returns with the environment
            throw e;
        }
    }

    /** Back to the pool reset, or closed (after a failure, when the pool is full or closed). */
    private void give(Txn<byte[]> txn, boolean reusable) {
        if (reusable) {
            synchronized (idle) {
                if (!closed && idle.size() < MAX_IDLE) {
                    txn.reset();
                    idle.addFirst(txn);
                    return;
                }
            }
        }
        txn.close();
    }

    /** Ends every idle transaction; call before the environment closes. */
    void close() {
        synchronized (idle) {
            closed = true;
            for (Txn<byte[]> txn : idle) {
                txn.renew(); // lmdbjava's close aborts (frees the transaction and its slot) only a READY one
                txn.close();
            }
            idle.clear();
        }
    }
}
