package dev.zenith.server.ingest;

import dev.zenith.wal.Lsn;

import java.util.function.BooleanSupplier;

/**
 * A receiver's state and how far its WAL is in LMDB, written on its event loop and waited for by other
 * threads (blocking waits, never on an event loop): every change wakes the waiters.
 */
final class ReceiverProgress {
    private final Object lock = new Object();
    private volatile WalReceiver.State state = WalReceiver.State.CONNECTING;
    /** End of the WAL in LMDB (readable). */
    private volatile Lsn indexed = Lsn.INVALID;

    WalReceiver.State state() {
        return state;
    }

    Lsn indexed() {
        return indexed;
    }

    void setState(WalReceiver.State s) {
        synchronized (lock) {
            state = s;
            lock.notifyAll();
        }
    }

    void setIndexed(Lsn end) {
        synchronized (lock) {
            indexed = end;
            lock.notifyAll();
        }
    }

    /** Waits until {@code reached} holds; false on timeout. */
    boolean await(BooleanSupplier reached, long timeoutMs) throws InterruptedException {
        long deadline = System.nanoTime() + timeoutMs * 1_000_000;
        synchronized (lock) {
            while (!reached.getAsBoolean()) {
                long left = (deadline - System.nanoTime()) / 1_000_000;
                if (left <= 0) {
                    return false;
                }
                lock.wait(left);
            }
        }
        return true;
    }
}
