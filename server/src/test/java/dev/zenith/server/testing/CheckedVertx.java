package dev.zenith.server.testing;

import dev.zenith.server.BlockedThreads;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.impl.VertxThread;
import io.vertx.core.internal.VertxInternal;
import io.vertx.core.internal.threadchecker.BlockedThreadEvent;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Vert.x for tests, holding the rule "no event loop ever blocks" to a short limit: an event-loop task
 * that runs longer than {@link #MAX_EVENT_LOOP_MILLIS} (default 1 s; Vert.x's own default, 2 s, only
 * logs) is recorded with the stack it was stuck in, and {@link NoBlockedEventLoops} fails the test
 * during which it happened. 1 s rather than less: on the shared 2-core test machine a task is sometimes
 * descheduled for a few hundred milliseconds without blocking anything. -Dzenith.test.maxEventLoopMillis
 * tightens it to hunt for shorter stalls.
 */
public final class CheckedVertx {
    public static final long MAX_EVENT_LOOP_MILLIS = Long.getLong("zenith.test.maxEventLoopMillis", 1000);
    private static final Logger LOG = Logger.getLogger(CheckedVertx.class.getName());
    /** Per thread, its longest stall since the last check (the checker reports a stall at each look until it ends). */
    private static final Map<Thread, Stall> blocked = new LinkedHashMap<>();

    private record Stall(long nanos, String report) {
    }

    private CheckedVertx() {
    }

    /** A Vertx whose blocked event loops fail the running test. */
    public static Vertx create() {
        VertxOptions options = new VertxOptions()
                .setMaxEventLoopExecuteTime(MAX_EVENT_LOOP_MILLIS).setMaxEventLoopExecuteTimeUnit(TimeUnit.MILLISECONDS)
                .setWarningExceptionTime(MAX_EVENT_LOOP_MILLIS).setWarningExceptionTimeUnit(TimeUnit.MILLISECONDS)
                .setBlockedThreadCheckInterval(Math.max(10, MAX_EVENT_LOOP_MILLIS / 5))
                .setBlockedThreadCheckIntervalUnit(TimeUnit.MILLISECONDS);
        Vertx vertx = Vertx.vertx(options);
        ((VertxInternal) vertx).blockedThreadChecker().setThreadBlockedHandler(CheckedVertx::onBlocked);
        return vertx;
    }

    /** The blocked event loops recorded since the last call, each with its stack; emptied. */
    static synchronized List<String> drain() {
        List<String> all = new ArrayList<>(blocked.values().stream().map(Stall::report).toList());
        blocked.clear();
        return all;
    }

    private static void onBlocked(BlockedThreadEvent e) {
        Thread t = e.thread();
        // the thread is still stuck while the checker reports it: its stack shows where
        StringBuilder where = new StringBuilder();
        for (StackTraceElement s : t.getStackTrace()) {
            where.append("\n\tat ").append(s);
        }
        String what = t.getName() + " blocked for " + TimeUnit.NANOSECONDS.toMillis(e.duration()) + " ms (limit "
                + TimeUnit.NANOSECONDS.toMillis(e.maxExecTime()) + " ms; " + BlockedThreads.circumstances(t) + ")" + where;
        LOG.log(Level.WARNING, what);
        // worker threads may run long jobs (their limit stays Vert.x's 60 s): logged only; so is a loop that was
        // only kept off the CPU on an overloaded machine
        if (t instanceof VertxThread vt && !vt.isWorker() && !Starvation.explains(what)) {
            synchronized (CheckedVertx.class) {
                blocked.merge(t, new Stall(e.duration(), what), (a, b) -> a.nanos() >= b.nanos() ? a : b);
            }
        }
    }
}
