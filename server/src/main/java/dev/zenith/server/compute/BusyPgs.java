package dev.zenith.server.compute;

import dev.zenith.server.domain.ConflictException;

import java.io.IOException;

/**
 * Marks a pg busy with a long action ({@link Compute.Busy}) while the action runs. Such an action lets go of
 * the management lock while it waits; meanwhile other actions on this pg are refused (409), other pgs' go on.
 */
final class BusyPgs {
    private final PgRegistry registry;

    BusyPgs(PgRegistry registry) {
        this.registry = registry;
    }

    interface Action<T> {
        T on(Compute c) throws IOException;
    }

    /** A pg no long action is under way on (409 otherwise: that action lets go of the lock while it waits). */
    Compute idle(String name) {
        Compute c = registry.require(name);
        Compute.Busy busy = c.busy;
        if (busy != null) {
            throw new ConflictException("pg '" + name + "' is " + busy + "; try again when that is done");
        }
        return c;
    }

    /**
     * 409 while a replica that follows {@code leader} is busy (a start lets go of the lock): a checkout or a
     * forked start moves the replicas along, which must not happen under a start on the old history.
     */
    void refuseWhileFollowersBusy(String leader) {
        for (Compute f : registry.all()) {
            Compute.Busy busy = f.busy;
            if (busy != null && leader.equals(f.record.replicaOf())) {
                throw new ConflictException("replica '" + f.name() + "' of pg '" + leader + "' is " + busy
                        + "; try again when that is done");
            }
        }
    }

    /**
     * Waits (at most {@code timeout}) until no pg is starting: a start works on its store and directory
     * without the management lock, so a shutdown lets it finish before it stops the computes and closes stores.
     */
    void awaitNoStart(java.time.Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (registry.all().stream().anyMatch(c -> c.starting) && System.nanoTime() < deadline) {
            try {
                Thread.sleep(100);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    /** Runs a long action on an idle pg, marking it busy meanwhile. */
    <T> T busyWith(String name, Compute.Busy what, Action<T> action) throws IOException {
        Compute c = idle(name);
        c.busy = what;
        try {
            return action.on(c);
        } finally {
            c.busy = null;
        }
    }
}
