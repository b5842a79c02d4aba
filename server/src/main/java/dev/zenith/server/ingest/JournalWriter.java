package dev.zenith.server.ingest;

import dev.zenith.storage.Store;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.storage.wal.WalAppend;
import dev.zenith.storage.wal.WalAppends;
import io.vertx.core.Context;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;

/**
 * The thread that makes one replication stream's WAL durable: it takes everything queued since its
 * last write, writes it to the store's journal with one synchronous write ({@link dev.zenith.storage.journal.WalJournals#append}),
 * reports that on the receiver's context, and goes straight on to whatever queued meanwhile.
 *
 * <p>That is group commit without a hand-off per write. Under load WAL arrives while a write runs, so
 * the next write is already waiting when one ends: a worker pool would park the thread after every
 * write and need the event loop to wake it again (a futex wake, a context switch and an event-loop
 * turn per acknowledgement, a quarter of the receiver's system calls, bench/RESULTS.md). Here the
 * event loop only queues, and wakes the thread when it had nothing to do.
 *
 * <p>After a failed write nothing more is written: everything queued then or later is reported as
 * failed, so no WAL is acknowledged beyond a hole. A receiver uses a new writer per connection.
 */
final class JournalWriter {
    /** What the writer reports, always on the receiver's context. */
    interface Reports {
        /** {@code appends} queued appends, joined into {@code batch}, are durable; the write took {@code nanos}. */
        void journaled(WalAppend batch, int appends, long nanos);

        /** {@code appends} queued appends ({@code bytes} WAL bytes) were not written and never will be. */
        void failed(int appends, long bytes, Throwable cause);
    }

    private final Store store;
    private final TimelineId timeline;
    private final int maxBatchBytes;
    private final Context context;
    private final Reports reports;
    private final ArrayDeque<WalAppend> queue = new ArrayDeque<>(); // guarded by this
    private boolean waiting; // the thread sleeps until something is queued; guarded by this
    private boolean closed;  // guarded by this
    private Throwable failure; // only the writer thread touches it

    JournalWriter(String threadName, Store store, TimelineId timeline, int maxBatchBytes, Context context,
                  Reports reports) {
        this.store = store;
        this.timeline = timeline;
        this.maxBatchBytes = maxBatchBytes;
        this.context = context;
        this.reports = reports;
        Thread thread = new Thread(this::run, threadName);
        thread.setDaemon(true);
        thread.start();
    }

    /** Queues WAL that continues what was queued before; never blocks on the disk. */
    synchronized void submit(WalAppend append) {
        if (closed) {
            throw new IllegalStateException("journal writer closed");
        }
        queue.add(append);
        if (waiting) {
            notify();
        }
    }

    /** Nothing more will be queued: the thread reports what is queued and ends. */
    synchronized void close() {
        closed = true;
        notify();
    }

    private void run() {
        List<WalAppend> batch = new ArrayList<>();
        while (takeBatch(batch)) {
            int appends = batch.size();
            if (failure == null) {
                try {
                    WalAppend merged = WalAppends.concat(batch);
                    long t0 = System.nanoTime();
                    store.journals().append(timeline, merged.start(), merged.bytes());
                    long nanos = System.nanoTime() - t0;
                    context.runOnContext(v -> reports.journaled(merged, appends, nanos));
                    continue;
                } catch (Throwable t) { // whatever it was, this WAL is not durable and the stream must start over
                    failure = t;
                }
            }
            Throwable cause = failure;
            long bytes = batch.stream().mapToLong(a -> a.bytes().length).sum();
            context.runOnContext(v -> reports.failed(appends, bytes, cause));
        }
    }

    /** Waits for queued appends and moves up to a batch of them into {@code batch}; false once closed and empty. */
    private synchronized boolean takeBatch(List<WalAppend> batch) {
        batch.clear();
        while (queue.isEmpty() && !closed) {
            waiting = true;
            try {
                wait();
            } catch (InterruptedException e) {
                // nobody interrupts this thread; queued WAL must still be reported, so keep going
            } finally {
                waiting = false;
            }
        }
        long bytes = 0;
        while (!queue.isEmpty() && (batch.isEmpty() || bytes + queue.peek().bytes().length <= maxBatchBytes)) {
            WalAppend a = queue.poll();
            bytes += a.bytes().length;
            batch.add(a);
        }
        return !batch.isEmpty();
    }
}
