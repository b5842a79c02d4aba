package dev.zenith.server.testing;

import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Tells a blocked-event-loop report that proves nothing from one that does. On a machine whose load is several
 * times its cores (other sessions' builds and tests), a loop running plain Java code (class loading, a lambda's
 * first link, a map lookup) is kept off the CPU for seconds without blocking anything. Such a report is left out
 * only when the loop was RUNNABLE outside every blocking call (file, socket or LMDB I/O, a process); a loop
 * waiting, sleeping, parked or in I/O always counts, as does any report on a machine that is not overloaded.
 */
final class Starvation {
    /** Load per core above which a runnable loop's stall is put down to the machine. */
    static final double OVERLOADED_PER_CORE = 4.0;
    private static final Pattern CIRCUMSTANCES = Pattern.compile("; (\\w+); load ([0-9.]+) on (\\d+) cores\\)");
    /** Frames of calls that block: a stall in one of them is the fault the check is for, whatever the load. */
    private static final List<String> BLOCKING = List.of("sun.nio.ch.", "sun.nio.fs.", "java.io.File",
            "java.io.RandomAccessFile", "java.net.", "java.lang.ProcessImpl", "java.lang.ProcessHandleImpl", "org.lmdbjava.",
            "jnr.", "java.lang.Thread.sleep", "java.lang.Object.wait", "java.util.concurrent.locks.LockSupport.park");

    /**
     * An event loop's own wait for I/O events: a report whose stack starts there was taken after the stall ended
     * (the checker ran late on the overloaded machine), so the stack says nothing of what stalled.
     */
    private static final List<String> IDLE_LOOP = List.of("sun.nio.ch.EPoll.wait", "io.netty.channel.epoll.Native.epollWait",
            "sun.nio.ch.SelectorImpl.select");

    private Starvation() {
    }

    static boolean explains(String report) {
        Matcher m = CIRCUMSTANCES.matcher(report);
        if (!m.find() || !m.group(1).equals("RUNNABLE")) {
            return false;
        }
        double load = Double.parseDouble(m.group(2));
        int cores = Integer.parseInt(m.group(3));
        if (load < OVERLOADED_PER_CORE * cores) {
            return false;
        }
        String[] lines = report.split("\n");
        if (lines.length > 1 && IDLE_LOOP.stream().anyMatch(lines[1]::contains)) {
            return true;
        }
        for (String line : lines) {
            for (String blocking : BLOCKING) {
                // "\tat app//org.lmdbjava...", "\tat java.base@17/sun.nio.ch..." or "\tat org.lmdbjava..."
                if (line.contains("at " + blocking) || line.contains("/" + blocking)) {
                    return false;
                }
            }
        }
        return true;
    }
}
