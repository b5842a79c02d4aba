package dev.zenith.server.offload;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Lowers the CPU priority (raises the nice value) of the calling thread only: on Linux each thread has its own nice
 * value, set through {@code setpriority(PRIO_PROCESS, tid)}. An s3 storage's uploads (its bases: a copy and hash of the
 * whole store, every few tens of seconds under writes) run so: on cores the pgs' commits keep busy, they take what the
 * commits leave, and a base that then takes longer spaces the next one out (ten times its duration). Where the call is
 * not there (not Linux) or refused, the thread keeps its priority: nothing else changes.
 */
final class LowerPriority {
    private static final Logger LOG = Logger.getLogger(LowerPriority.class.getName());
    /** Weight 110 against a normal thread's 1024 while both want a core (the kernel's nice-to-weight table). */
    static final int NICE = 10;
    private static final int PRIO_PROCESS = 0;

    /** libc's call, bound once on first use. */
    public interface LibC {
        int setpriority(int which, int who, int prio);

        int getpriority(int which, int who);
    }

    private static volatile LibC libc;
    private static volatile boolean unavailable;

    private LowerPriority() {
    }

    /** Sets the calling thread's nice value to {@link #NICE} (never lower than it is); false when it could not. */
    static boolean ofThisThread() {
        Integer tid = threadId();
        LibC c = tid == null ? null : libc();
        if (c == null) {
            return false;
        }
        // getpriority answers the nice value itself (glibc's wrapper): never raise a thread already nicer than NICE
        return c.getpriority(PRIO_PROCESS, tid) >= NICE || c.setpriority(PRIO_PROCESS, tid, NICE) == 0;
    }

    /** The calling thread's nice value, or null where it cannot be read (for tests and logs). */
    static Integer niceOfThisThread() {
        Integer tid = threadId();
        LibC c = tid == null ? null : libc();
        return c == null ? null : c.getpriority(PRIO_PROCESS, tid);
    }

    /** The kernel's id of the calling thread: /proc/thread-self links to PID/task/TID (Linux 3.17 on). */
    private static Integer threadId() {
        try {
            return Integer.parseInt(Files.readSymbolicLink(Path.of("/proc/thread-self")).getFileName().toString());
        } catch (Exception e) {
            return null;
        }
    }

    private static LibC libc() {
        LibC c = libc;
        if (c != null || unavailable) {
            return c;
        }
        synchronized (LowerPriority.class) {
            if (libc == null && !unavailable) {
                try {
                    libc = jnr.ffi.LibraryLoader.create(LibC.class).load("c");
                } catch (RuntimeException | LinkageError e) {
                    unavailable = true;
                    LOG.log(Level.INFO, "uploads keep the daemon's CPU priority: libc's setpriority is not available", e);
                }
            }
            return libc;
        }
    }
}
