package dev.zenith.server.pageservice;

import io.netty.channel.SelectStrategy;
import io.netty.util.IntSupplier;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.LongSupplier;

/**
 * How a page I/O thread waits for its next event: for a moment it polls (epoll_wait with no timeout) before it
 * blocks. A client at queue depth 1 sends its next request a round trip after our answer; a thread that slept
 * meanwhile is woken by the kernel first (a scheduler wake-up, on a virtual machine an interrupt to an idle CPU),
 * which costs more than the page. Bounded three ways, as it burns a core while it polls: at most {@code spinNanos}
 * per wait; only after a wait that ended within that bound (a client that sends seldom, or nothing at all, is
 * waited for by blocking, as before); one thread of the group at a time (the others block).
 * Runs on its I/O thread only; one instance per thread, {@code spinners} shared by the group.
 */
final class BoundedSpin implements SelectStrategy {
    private final long spinNanos;
    private final AtomicInteger spinners;
    private final LongSupplier clock;
    /** When this thread last asked how to wait, and whether its wait before ended quickly: events come often. */
    private long lastAsked;
    private boolean eventsComeOften;

    BoundedSpin(long spinNanos, AtomicInteger spinners) {
        this(spinNanos, spinners, System::nanoTime);
    }

    /** {@code clock}: nanoseconds, as {@link System#nanoTime} (a test's own). */
    BoundedSpin(long spinNanos, AtomicInteger spinners, LongSupplier clock) {
        this.spinNanos = spinNanos;
        this.spinners = spinners;
        this.clock = clock;
        this.lastAsked = clock.getAsLong() - 2 * spinNanos; // no wait yet: the first one blocks
    }

    @Override
    public int calculateStrategy(IntSupplier selectNow, boolean hasTasks) throws Exception {
        long now = clock.getAsLong();
        // the time since the last ask spans that wait and the events it brought: generous on purpose
        boolean often = now - lastAsked < 2 * spinNanos;
        lastAsked = now;
        if (hasTasks) {
            eventsComeOften = true;
            return selectNow.get();
        }
        boolean spin = eventsComeOften || often;
        eventsComeOften = false;
        if (!spin || spinNanos <= 0 || spinners.get() > 0 || !spinners.compareAndSet(0, 1)) {
            return SelectStrategy.SELECT;
        }
        try {
            long until = now + spinNanos;
            do {
                int ready = selectNow.get();
                if (ready > 0) {
                    eventsComeOften = true;
                    return ready;
                }
                Thread.onSpinWait();
            } while (clock.getAsLong() - until < 0);
            return SelectStrategy.SELECT;
        } finally {
            spinners.set(0);
        }
    }
}
