package dev.zenith.server.pageservice;

import io.netty.channel.SelectStrategy;
import io.netty.util.IntSupplier;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import java.util.function.LongSupplier;

/**
 * How a page I/O thread waits for its next event: for a moment it polls (epoll_wait with no timeout) before it
 * blocks. A client at queue depth 1 sends its next request a round trip after our answer; a thread that slept
 * meanwhile is woken by the kernel first (a scheduler wake-up, on a virtual machine an interrupt to an idle CPU),
 * which costs more than the page. Bounded four ways, as it burns a core while it polls: at most {@code spinNanos}
 * per wait; only after a wait that ended within that bound (a client that sends seldom, or nothing at all, is
 * waited for by blocking, as before); one thread of the group at a time (the others block); only while the machine
 * has a core to spare ({@link SpareCore}: on a busy machine a wake-up is cheap, and a poll takes a core from the
 * client and the other threads: measured, it made the 1-connection p50 worse and pages/s at 8 connections lower).
 * Runs on its I/O thread only; one instance per thread, {@code spinners} shared by the group.
 */
final class BoundedSpin implements SelectStrategy {
    private final long spinNanos;
    private final AtomicInteger spinners;
    private final LongSupplier clock;
    private final BooleanSupplier spareCore;
    /** When this thread last asked how to wait, and whether its wait before ended quickly: events come often. */
    private long lastAsked;
    private boolean eventsComeOften;

    BoundedSpin(long spinNanos, AtomicInteger spinners) {
        this(spinNanos, spinners, System::nanoTime, new SpareCore());
    }

    /** {@code clock}: nanoseconds, as {@link System#nanoTime}; {@code spareCore}: whether a poll may take a core (a test's own). */
    BoundedSpin(long spinNanos, AtomicInteger spinners, LongSupplier clock, BooleanSupplier spareCore) {
        this.spinNanos = spinNanos;
        this.spinners = spinners;
        this.clock = clock;
        this.spareCore = spareCore;
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
        if (!spin || spinNanos <= 0 || spinners.get() > 0 || !spareCore.getAsBoolean() || !spinners.compareAndSet(0, 1)) {
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

    /**
     * Whether the machine has a core to spare: the tasks running or runnable now (/proc/loadavg's fourth field, this
     * thread among them) are at most the cores. Read at most every 10 ms (a read costs a few microseconds); no
     * /proc: never.
     */
    static final class SpareCore implements BooleanSupplier {
        private static final Path LOADAVG = Path.of("/proc/loadavg");
        private static final long EVERY_NANOS = 10_000_000L;
        private final int cores = Runtime.getRuntime().availableProcessors();
        private long readAt = System.nanoTime() - EVERY_NANOS;
        private boolean spare;

        @Override
        public boolean getAsBoolean() {
            long now = System.nanoTime();
            if (now - readAt >= EVERY_NANOS) {
                readAt = now;
                spare = running(readLoad()) <= cores;
            }
            return spare;
        }

        private static String readLoad() {
            try {
                return Files.readString(LOADAVG);
            } catch (IOException | RuntimeException e) {
                return "";
            }
        }

        /** The running tasks in a /proc/loadavg line ("0.50 0.40 0.30 2/644 31016"); MAX_VALUE when it does not say. */
        static int running(String loadavg) {
            int slash = loadavg.indexOf('/');
            int space = slash < 0 ? -1 : loadavg.lastIndexOf(' ', slash);
            try {
                return slash < 0 ? Integer.MAX_VALUE : Integer.parseInt(loadavg.substring(space + 1, slash));
            } catch (NumberFormatException e) {
                return Integer.MAX_VALUE;
            }
        }
    }
}
