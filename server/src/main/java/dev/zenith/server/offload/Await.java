package dev.zenith.server.offload;

import dev.zenith.objectstore.ObjectStoreException;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/** Waits for an object-store answer on a worker thread, failing as an {@link ObjectStoreException}. */
final class Await {
    private Await() {
    }

    static <T> T result(CompletableFuture<T> f, long timeoutSeconds) {
        try {
            return f.get(timeoutSeconds, TimeUnit.SECONDS);
        } catch (ExecutionException | CompletionException e) {
            Throwable c = e.getCause();
            if (c instanceof ObjectStoreException o) {
                throw o;
            }
            if (c instanceof RuntimeException r) {
                throw r;
            }
            throw new ObjectStoreException(ObjectStoreException.Kind.UNAVAILABLE, String.valueOf(c), c);
        } catch (TimeoutException e) {
            f.cancel(true);
            throw new ObjectStoreException(ObjectStoreException.Kind.UNAVAILABLE, "no answer in " + timeoutSeconds + " s", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ObjectStoreException(ObjectStoreException.Kind.UNAVAILABLE, "interrupted", e);
        }
    }
}
