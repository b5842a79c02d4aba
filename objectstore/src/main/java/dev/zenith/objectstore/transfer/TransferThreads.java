package dev.zenith.objectstore.transfer;

import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/** What an uploader or a downloader runs on: its own worker threads, a retry timer, its progress. */
final class TransferThreads implements AutoCloseable {
    final ExecutorService workers;
    /** For work nobody waits for soon (an s3 storage's bases): its threads begin with the settings' backgroundStart. */
    final ExecutorService background;
    final TransferProgress progress = new TransferProgress();
    final Retrier retrier;
    private final ScheduledExecutorService timer;

    TransferThreads(String name, TransferSettings settings) {
        AtomicInteger n = new AtomicInteger();
        this.workers = Executors.newFixedThreadPool(settings.parallelObjects(), r -> daemon(r, name + "-" + n.incrementAndGet()));
        Runnable start = settings.backgroundStart();
        AtomicInteger b = new AtomicInteger();
        // threads start on first use: a transfer without background work has none
        this.background = Executors.newFixedThreadPool(settings.parallelObjects(), r -> daemon(() -> {
            start.run();
            r.run();
        }, name + "-background-" + b.incrementAndGet()));
        this.timer = Executors.newSingleThreadScheduledExecutor(r -> daemon(r, name + "-retry"));
        this.retrier = new Retrier(settings.backoff(), settings.retryDenied(), timer, progress);
    }

    private static Thread daemon(Runnable r, String name) {
        Thread t = new Thread(r, name);
        t.setDaemon(true);
        return t;
    }

    /**
     * Ends waiting retries (their calls fail) and stops the threads: transfers not begun never run (their futures never
     * complete: callers cancel them), and those under way are interrupted and waited for (a while), so none writes
     * anything after this returns. Blocking.
     */
    @Override
    public void close() {
        retrier.close();
        workers.shutdownNow();
        background.shutdownNow();
        timer.shutdownNow();
        try {
            workers.awaitTermination(10, TimeUnit.SECONDS);
            background.awaitTermination(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
