package dev.zenith.server.jobs;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.WorkerExecutor;

import java.io.IOException;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Where the daemon's state changes run: on worker threads (never an event loop), one at a time under
 * the management lock, in order of arrival (a fair lock). A long action lets go of the lock while it
 * only waits ({@link #unlocked}: a compute's shutdown, a replica's replay, a promotion), keeping what it
 * works on marked busy, so that a stop or promote of a minute does not hold every other REST change,
 * the crash watcher and the storages' polls behind it.
 */
public final class Management {
    public static final String EXECUTOR = "zenith-management";
    /** Actions waiting unlocked each hold a thread; beyond this many, further work queues. */
    private static final int THREADS = 4;

    private final WorkerExecutor workers;
    private final ReentrantLock lock = new ReentrantLock(true);

    public Management(Vertx vertx) {
        this.workers = vertx.createSharedWorkerExecutor(EXECUTOR, THREADS, 30, TimeUnit.MINUTES);
    }

    /** Runs {@code work} on a management thread under the lock. */
    public <T> Future<T> run(Callable<T> work) {
        return workers.executeBlocking(() -> {
            lock.lock();
            try {
                return work.call();
            } finally {
                lock.unlock();
            }
        }, false);
    }

    /** Blocking work that only waits (for a process, a receiver's drain, a replica's replay). */
    public interface Wait<T> {
        T call() throws IOException;
    }

    /**
     * Runs {@code wait} without the lock, so other state changes proceed meanwhile, and takes the lock
     * back before returning. The caller keeps what it works on marked busy. Called without the lock
     * (at shutdown, on a plain thread) it just runs {@code wait}.
     */
    public <T> T unlocked(Wait<T> wait) throws IOException {
        int held = lock.getHoldCount();
        for (int i = 0; i < held; i++) {
            lock.unlock();
        }
        try {
            return wait.call();
        } finally {
            for (int i = 0; i < held; i++) {
                lock.lock();
            }
        }
    }

    /** Waits (at most {@code timeout}) for the state change under way and the queued ones to finish. */
    public void drain(long timeout, TimeUnit unit) throws Exception {
        run(() -> null).toCompletionStage().toCompletableFuture().get(timeout, unit);
    }
}
