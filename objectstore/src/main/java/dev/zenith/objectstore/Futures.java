package dev.zenith.objectstore;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;

/** Waiting on a worker thread (never an event loop): for a future, with its own exception rethrown, or a while. */
public final class Futures {
    private Futures() {
    }

    public static <T> T join(CompletableFuture<T> f) {
        try {
            return f.join();
        } catch (CompletionException e) {
            if (e.getCause() instanceof RuntimeException r) {
                throw r;
            }
            throw e;
        }
    }

    /** Sleeps on a worker thread; an interrupt ends what it was waiting for (named by {@code during}) as UNAVAILABLE. */
    public static void sleep(java.time.Duration d, String during) {
        try {
            Thread.sleep(d.toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ObjectStoreException(ObjectStoreException.Kind.UNAVAILABLE, "interrupted while " + during);
        }
    }
}
