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
