package dev.zenith.server;

import io.vertx.core.VertxOptions;
import io.vertx.core.impl.VertxThread;
import io.vertx.core.internal.VertxInternal;
import io.vertx.core.internal.threadchecker.BlockedThreadEvent;

import java.lang.management.ManagementFactory;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Vert.x's blocked-thread checker, said in the daemon's log in fixed words with the stack the thread was
 * stuck in: an event loop that ran one task past the limit breaks the rule that no event loop ever blocks,
 * and {@link #EVENT_LOOP_BLOCKED} starts that line (tests running the daemon as a process look for it).
 * The limit is Vert.x's (2 s) unless {@code -Dzenith.maxEventLoopMillis} sets another.
 */
public final class BlockedThreads {
    public static final String EVENT_LOOP_BLOCKED = "event loop blocked:";
    private static final Logger LOG = Logger.getLogger(BlockedThreads.class.getName());

    private BlockedThreads() {
    }

    /** Vert.x options with the event-loop limit the JVM was given, if any, checked often enough to see it. */
    static VertxOptions options() {
        VertxOptions options = new VertxOptions();
        Long limit = Long.getLong("zenith.maxEventLoopMillis");
        if (limit != null && limit > 0) {
            options.setMaxEventLoopExecuteTime(limit).setMaxEventLoopExecuteTimeUnit(TimeUnit.MILLISECONDS)
                    .setBlockedThreadCheckInterval(Math.max(10, Math.min(1000, limit / 5)))
                    .setBlockedThreadCheckIntervalUnit(TimeUnit.MILLISECONDS);
        }
        return options;
    }

    /** Reports {@code vertx}'s blocked threads here instead of in Vert.x's own words. */
    static void report(VertxInternal vertx) {
        vertx.blockedThreadChecker().setThreadBlockedHandler(BlockedThreads::onBlocked);
    }

    /**
     * The thread's state and the machine's load, which tell a blocking call (waiting, or in I/O) from a task that
     * was only kept off the CPU by other processes: e.g. "RUNNABLE; load 29.1 on 2 cores".
     */
    public static String circumstances(Thread t) {
        double load = ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage();
        return t.getState() + "; load " + String.format(Locale.ROOT, "%.1f", load) + " on "
                + Runtime.getRuntime().availableProcessors() + " cores";
    }

    static void onBlocked(BlockedThreadEvent e) {
        Thread t = e.thread();
        StringBuilder where = new StringBuilder();
        for (StackTraceElement s : t.getStackTrace()) { // still stuck while the checker reports it
            where.append("\n\tat ").append(s);
        }
        String what = t.getName() + " for " + TimeUnit.NANOSECONDS.toMillis(e.duration()) + " ms (limit "
                + TimeUnit.NANOSECONDS.toMillis(e.maxExecTime()) + " ms; " + circumstances(t) + ")" + where;
        if (t instanceof VertxThread vt && vt.isWorker()) {
            LOG.warning("worker thread busy past its limit: " + what); // long jobs may; said, not a fault
        } else {
            LOG.log(Level.SEVERE, EVENT_LOOP_BLOCKED + " " + what);
        }
    }
}
