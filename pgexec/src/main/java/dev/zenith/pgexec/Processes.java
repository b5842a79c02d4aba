package dev.zenith.pgexec;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Whether a process of another parent still runs. */
public final class Processes {
    private Processes() {
    }

    /**
     * True while {@code pid} runs. A process that exited but that its parent has not reaped yet (a zombie:
     * a daemon or postmaster whose parent is init, when init reaps late) counts as gone, unlike
     * {@link ProcessHandle#isAlive()}: it holds no locks, files or ports any more.
     */
    public static boolean isRunning(long pid) {
        if (!ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)) {
            return false;
        }
        try {
            // /proc/PID/stat: "pid (comm) state ...", and comm may itself contain ") "
            String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
            int end = stat.lastIndexOf(')');
            return end < 0 || end + 2 >= stat.length() || stat.charAt(end + 2) != 'Z';
        } catch (IOException e) {
            return ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false); // gone meanwhile, or no /proc
        }
    }
}
