package dev.zenith.objectstore.transfer;

import dev.zenith.objectstore.ObjectStoreException;

import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Runs an object-store call again after transient failures (server down, 5xx, timeouts), waiting
 * per {@link Backoff} on a timer (no thread sleeps), counting retries and the last error into a
 * {@link TransferProgress}. Permanent failures (corrupt data, a refused request) end at once;
 * "access denied" is retried only when asked (credentials may be renewed under a running daemon).
 */
public final class Retrier {
    private static final Logger LOG = Logger.getLogger(Retrier.class.getName());
    private final Backoff backoff;
    private final boolean retryDenied;
    private final ScheduledExecutorService timer;
    private final TransferProgress progress;
    private final Set<CompletableFuture<?>> running = ConcurrentHashMap.newKeySet();
    private volatile boolean closed;

    public Retrier(Backoff backoff, boolean retryDenied, ScheduledExecutorService timer, TransferProgress progress) {
        this.backoff = backoff;
        this.retryDenied = retryDenied;
        this.timer = timer;
        this.progress = progress;
    }

    public <T> CompletableFuture<T> run(Supplier<CompletableFuture<T>> call) {
        CompletableFuture<T> out = new CompletableFuture<>();
        running.add(out);
        out.whenComplete((v, e) -> running.remove(out));
        if (closed) {
            out.completeExceptionally(closedError());
        }
        attempt(call, 1, out);
        return out;
    }

    /** Ends every call still waiting to try again, and later failures at once. */
    public void close() {
        closed = true;
        for (CompletableFuture<?> f : running) {
            f.completeExceptionally(closedError());
        }
    }

    private static ObjectStoreException closedError() {
        return new ObjectStoreException(ObjectStoreException.Kind.UNAVAILABLE, "transfer closed before it succeeded");
    }

    private <T> void attempt(Supplier<CompletableFuture<T>> call, int n, CompletableFuture<T> out) {
        if (out.isDone()) {
            return; // closed meanwhile
        }
        CompletableFuture<T> f;
        try {
            f = call.get();
        } catch (RuntimeException e) {
            f = CompletableFuture.failedFuture(e);
        }
        f.whenComplete((v, e) -> {
            if (e == null) {
                out.complete(v);
                return;
            }
            Throwable t = e instanceof CompletionException && e.getCause() != null ? e.getCause() : e;
            if (closed || backoff.exhausted(n) || !worthRetrying(t)) {
                out.completeExceptionally(t);
                return;
            }
            progress.retried(t.getMessage());
            long delay = backoff.delayAfter(n).toMillis();
            LOG.log(n == 1 ? Level.INFO : Level.FINE, "retrying in " + delay + " ms: " + t.getMessage());
            try {
                timer.schedule(() -> attempt(call, n + 1, out), delay, TimeUnit.MILLISECONDS);
            } catch (RejectedExecutionException closing) {
                out.completeExceptionally(closedError());
            }
        });
    }

    private boolean worthRetrying(Throwable t) {
        return t instanceof ObjectStoreException e
                && (e.retryable() || (retryDenied && e.kind() == ObjectStoreException.Kind.ACCESS_DENIED));
    }
}
