package dev.zenith.server.jobs;

import java.io.IOException;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Waits of a cancellable job that look at its cancellation every {@link #LOOK_MS} ms: a transfer whose server stopped
 * answering retries until it is closed, and a job blocked on it would otherwise never reach its next safe point, so
 * a cancel would wait for good. Blocking (worker threads).
 */
public final class CancellableWaits {
    static final long LOOK_MS = 100;

    /** Threads of {@link #call}: one per blocking call under way, kept a minute when idle. */
    private static final ExecutorService CALLS = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "zenith-cancellable-call");
        t.setDaemon(true);
        return t;
    });

    private CancellableWaits() {
    }

    /** Takes a permit of {@code permits}, or throws {@link JobCancelledException} once the job is cancelled. */
    public static void acquire(Semaphore permits, Progress progress) throws IOException {
        acquire(permits, 1, progress);
    }

    /** {@code count} permits of {@code permits}, as {@link #acquire(Semaphore, Progress)}. */
    public static void acquire(Semaphore permits, int count, Progress progress) throws IOException {
        try {
            while (!permits.tryAcquire(count, LOOK_MS, TimeUnit.MILLISECONDS)) {
                progress.checkCancelled();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        }
    }

    /**
     * The value of {@code f} once it completes (its failure as a {@link java.util.concurrent.CompletionException}, as
     * {@link CompletableFuture#join} throws it), or {@link JobCancelledException} once the job is cancelled.
     */
    public static <T> T join(CompletableFuture<T> f, Progress progress) throws IOException {
        while (true) {
            try {
                return f.get(LOOK_MS, TimeUnit.MILLISECONDS);
            } catch (TimeoutException e) {
                progress.checkCancelled();
            } catch (ExecutionException e) {
                return f.join(); // rethrows its failure as join does
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted", e);
            }
        }
    }

    /**
     * Runs a blocking call that may not return for minutes (an object store's against a server that accepts
     * connections but does not answer: each of the SDK's attempts waits out its I/O timeout) on a thread of its own,
     * and waits for it as {@link #join} does. Once the job is cancelled the wait ends with
     * {@link JobCancelledException}; what the call still returns afterwards goes to {@code abandoned} (a mark to take
     * back, say). The call's own runtime exception is rethrown as it is.
     */
    public static <T> T call(Callable<T> call, Progress progress, java.util.function.Consumer<T> abandoned) throws IOException {
        CompletableFuture<T> f = CompletableFuture.supplyAsync(() -> {
            try {
                return call.call();
            } catch (RuntimeException e) {
                throw e;
            } catch (Exception e) {
                throw new CompletionException(e);
            }
        }, CALLS);
        try {
            return join(f, progress);
        } catch (JobCancelledException e) {
            f.thenAccept(abandoned);
            throw e;
        } catch (CompletionException e) {
            if (e.getCause() instanceof RuntimeException r) {
                throw r;
            }
            if (e.getCause() instanceof IOException io) {
                throw io;
            }
            throw e;
        }
    }
}
