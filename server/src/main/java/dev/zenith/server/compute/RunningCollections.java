package dev.zenith.server.compute;

import dev.zenith.server.jobs.Management;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.util.HashSet;
import java.util.Set;

/**
 * The storages whose garbage collection runs now. A collection works on its storage's store without the
 * management lock, from retention points taken under it; meanwhile an action that would add a point to
 * keep (a snapshot, a branch, a checkout) or close the store (a detach) waits for it, without the lock too,
 * so that every other state change goes on.
 */
final class RunningCollections {
    private final Management management;
    private final Set<String> running = new HashSet<>(); // guarded by this

    RunningCollections(Management management) {
        this.management = management;
    }

    /**
     * Called under the management lock: returns, under it, once no collection runs on {@code storage} (null:
     * on any storage). A collection starts only under the lock, so none starts before the caller lets go.
     */
    void awaitNone(String storage) throws IOException {
        while (isRunning(storage)) {
            management.unlocked(() -> {
                synchronized (this) {
                    while (isRunningNow(storage)) {
                        try {
                            wait();
                        } catch (InterruptedException e) {
                            Thread.currentThread().interrupt();
                            throw new InterruptedIOException("interrupted waiting for garbage collection");
                        }
                    }
                }
                return null;
            });
        }
    }

    /** Under the lock: {@code storage}'s collection begins (after {@link #awaitNone} for it). */
    synchronized void begin(String storage) {
        running.add(storage);
    }

    synchronized void end(String storage) {
        running.remove(storage);
        notifyAll();
    }

    private synchronized boolean isRunning(String storage) {
        return isRunningNow(storage);
    }

    private boolean isRunningNow(String storage) {
        return storage == null ? !running.isEmpty() : running.contains(storage);
    }
}
