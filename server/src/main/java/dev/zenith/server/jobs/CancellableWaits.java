package dev.zenith.server.jobs;

import java.io.IOException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
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
}
