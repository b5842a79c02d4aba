package dev.zenith.pgexec;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalLong;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/** Processes of other parents: whether one still runs, finding one by its command line, signalling it. */
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

    /**
     * A running process whose arguments (from /proc/PID/cmdline, which any user may read) {@code matches}
     * accepts: how to find a server whose pid file is gone.
     */
    public static OptionalLong findByCommandLine(Predicate<List<String>> matches) {
        try (DirectoryStream<Path> proc = Files.newDirectoryStream(Path.of("/proc"), p -> p.getFileName().toString().matches("\\d+"))) {
            for (Path dir : proc) {
                byte[] cmdline;
                try {
                    cmdline = Files.readAllBytes(dir.resolve("cmdline"));
                } catch (IOException e) {
                    continue; // exited meanwhile
                }
                long pid = Long.parseLong(dir.getFileName().toString());
                if (cmdline.length > 0 && matches.test(arguments(cmdline)) && isRunning(pid)) {
                    return OptionalLong.of(pid);
                }
            }
        } catch (IOException e) {
            return OptionalLong.empty(); // no /proc
        }
        return OptionalLong.empty();
    }

    /** cmdline is the arguments, each ended by a NUL. */
    private static List<String> arguments(byte[] cmdline) {
        List<String> args = new ArrayList<>();
        int start = 0;
        for (int i = 0; i < cmdline.length; i++) {
            if (cmdline[i] == 0) {
                args.add(new String(cmdline, start, i - start, StandardCharsets.UTF_8));
                start = i + 1;
            }
        }
        if (start < cmdline.length) {
            args.add(new String(cmdline, start, cmdline.length - start, StandardCharsets.UTF_8));
        }
        return args;
    }

    /** Sends a signal ({@code INT}, {@code QUIT}, ...) with kill(1): Java itself can only send TERM and KILL. */
    public static void signal(long pid, String signal) throws IOException {
        Process kill = new ProcessBuilder("kill", "-" + signal, Long.toString(pid)).redirectErrorStream(true).start();
        String out = new String(kill.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        try {
            if (!kill.waitFor(1, TimeUnit.MINUTES) || kill.exitValue() != 0) {
                throw new IOException("kill -" + signal + " " + pid + " failed: " + out);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while signalling " + pid);
        }
    }

    /** Waits until {@code pid} no longer runs; false if it still does after {@code millis}. */
    public static boolean awaitExit(long pid, long millis) throws InterruptedException {
        long deadline = System.nanoTime() + millis * 1_000_000L;
        while (isRunning(pid)) {
            if (System.nanoTime() > deadline) {
                return false;
            }
            Thread.sleep(50);
        }
        return true;
    }
}
