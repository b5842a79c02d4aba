package dev.zenith.server.testing;

import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Tells a blocked-event-loop report that proves nothing from one that does. On a machine whose load is several
 * times its cores (other sessions' builds and tests), a loop running plain Java code (a lambda's first link, a map
 * lookup) is kept off the CPU for seconds without blocking anything. Such a report is left out only when the loop
 * was RUNNABLE outside every blocking call (file, socket or LMDB I/O, a process); a loop waiting, sleeping, parked
 * or in I/O always counts, as does any report on a machine that is not overloaded. The one exception is the JVM
 * loading a class, whatever the load: it reads its jars (file I/O, {@code java.net.URL}s) and may wait for another
 * thread loading the same class, once per class, in no call of ours. Only the JDK's own loaders count as that (a
 * class loader of ours is judged as any code), and what lies under the loading (the code that needed the class) is
 * judged as any stack.
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

    /**
     * System calls that never wait (a socket made, bound, set listening or given an option; an eventfd written to wake
     * a selector; epoll_ctl): a loop seen RUNNABLE in one of them on an overloaded machine was kept off the CPU there
     * (JobCancelTest once, at load 19-25: `Net.socket0` and `EventFD.set0` under the REST server's listen).
     */
    private static final List<String> NEVER_WAITS = List.of("sun.nio.ch.Net.socket0", "sun.nio.ch.Net.bind0",
            "sun.nio.ch.Net.listen", "sun.nio.ch.Net.setIntOption0", "sun.nio.ch.EventFD.set0", "sun.nio.ch.EPoll.ctl",
            "sun.nio.ch.IOUtil.configureBlocking");

    /**
     * A write to a socket of a Netty channel: Netty makes its channels non-blocking, so the write returns at once
     * with what the socket buffer took (SnapshotImportTest once, at load 35: `WalReceiver.sendStatus` seen RUNNABLE in
     * `FileDispatcherImpl.write0`). The same top frame under a file channel or a blocking socket still counts.
     */
    private static final List<String> SOCKET_WRITES = List.of("sun.nio.ch.FileDispatcherImpl.write0",
            "sun.nio.ch.FileDispatcherImpl.writev0", "sun.nio.ch.SocketDispatcher.write0", "sun.nio.ch.SocketDispatcher.writev0",
            "io.netty.channel.unix.FileDescriptor.write");
    private static final List<String> NETTY_SOCKET_CHANNELS = List.of("io.netty.channel.socket.nio.NioSocketChannel",
            "io.netty.channel.epoll.AbstractEpollStreamChannel");

    /** Frames of the JVM loading a class: whatever runs above the outermost of them is the loading's own work. */
    private static final List<String> CLASS_LOADING = List.of("java.lang.ClassLoader.loadClass", "java.lang.ClassLoader.defineClass",
            "jdk.internal.loader.");

    private Starvation() {
    }

    static boolean explains(String report) {
        String[] lines = report.split("\n");
        int loading = outermostClassLoading(lines);
        if (loading > 0 && jdkOnly(lines, loading)) {
            return !blocking(lines, loading + 1);
        }
        Matcher m = CIRCUMSTANCES.matcher(report);
        if (!m.find() || !m.group(1).equals("RUNNABLE")) {
            return false;
        }
        double load = Double.parseDouble(m.group(2));
        int cores = Integer.parseInt(m.group(3));
        if (load < OVERLOADED_PER_CORE * cores) {
            return false;
        }
        if (lines.length > 1 && (IDLE_LOOP.stream().anyMatch(lines[1]::contains) || in(lines[1], NEVER_WAITS))) {
            return true;
        }
        if (lines.length > 1 && in(lines[1], SOCKET_WRITES) && anyIn(lines, NETTY_SOCKET_CHANNELS)
                && !anyIn(lines, List.of("java.net.Socket", "java.io.FileOutputStream", "sun.nio.ch.FileChannelImpl"))) {
            return true;
        }
        return !blocking(lines, 1);
    }

    private static boolean anyIn(String[] lines, List<String> frames) {
        for (int i = 1; i < lines.length; i++) {
            if (in(lines[i], frames)) {
                return true;
            }
        }
        return false;
    }

    /** Whether a frame from {@code from} on (line 0 is the report's first line) is in a blocking call. */
    private static boolean blocking(String[] lines, int from) {
        for (int i = from; i < lines.length; i++) {
            if (in(lines[i], BLOCKING)) {
                return true;
            }
        }
        return false;
    }

    /** Whether the frames of lines 1 to {@code last} are all the JDK's (none of ours or a library's, e.g. a class loader). */
    private static boolean jdkOnly(String[] lines, int last) {
        for (int i = 1; i <= last; i++) {
            if (!lines[i].contains("at java.base@") && !lines[i].contains("at java.base/")) {
                return false;
            }
        }
        return true;
    }

    /** The line of the outermost class-loading frame (the stack's first frame is line 1), or -1. */
    private static int outermostClassLoading(String[] lines) {
        for (int i = lines.length - 1; i > 0; i--) {
            if (in(lines[i], CLASS_LOADING)) {
                return i;
            }
        }
        return -1;
    }

    private static boolean in(String frame, List<String> prefixes) {
        for (String prefix : prefixes) {
            // "\tat app//org.lmdbjava...", "\tat java.base@17/sun.nio.ch..." or "\tat org.lmdbjava..."
            if (frame.contains("at " + prefix) || frame.contains("/" + prefix)) {
                return true;
            }
        }
        return false;
    }
}
