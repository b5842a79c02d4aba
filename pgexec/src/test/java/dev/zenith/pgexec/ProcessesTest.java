package dev.zenith.pgexec;

import org.junit.jupiter.api.Test;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ProcessesTest {
    @Test
    void aRunningProcessRuns() {
        assertTrue(Processes.isRunning(ProcessHandle.current().pid()));
    }

    @Test
    void anExitedAndReapedProcessDoesNot() throws Exception {
        Process p = new ProcessBuilder("true").start();
        assertEquals(0, p.waitFor());
        assertFalse(Processes.isRunning(p.pid()));
    }

    @Test
    void aProcessIsFoundByItsExactCommandLineAndStoppedByASignal() throws Exception {
        String marker = "1" + System.nanoTime() % 1_000_000; // a sleep no one else runs
        Process p = new ProcessBuilder("sleep", marker).start();
        try {
            String sleep = Files.readString(Path.of("/proc", Long.toString(p.pid()), "cmdline")).split("\0")[0];
            assertEquals(p.pid(), Processes.findByCommandLine(java.util.List.of(sleep, marker)::equals).orElseThrow());
            assertTrue(Processes.findByCommandLine(java.util.List.of(sleep, marker + "0")::equals).isEmpty());
            // TERM, not INT: a shell started in the background without job control hands its children SIGINT ignored
            Processes.signal(p.pid(), "TERM");
            assertTrue(Processes.awaitExit(p.pid(), 60_000));
            assertTrue(Processes.findByCommandLine(java.util.List.of(sleep, marker)::equals).isEmpty(), "an exited process is not found");
        } finally {
            p.destroyForcibly();
        }
    }

    @Test
    void aZombieDoesNotThoughProcessHandleSaysAlive() throws Exception {
        // `sleep 1` exits after its parent became `sleep 30`, which never reaps it: a zombie until that ends (a child
        // that exited before the exec could be reaped by the shell itself: `sleep 0` was, once, on an idle machine)
        Process parent = new ProcessBuilder("sh", "-c", "sleep 1 & echo $!; exec sleep 30").start();
        try {
            long zombie = Long.parseLong(new BufferedReader(new InputStreamReader(parent.getInputStream())).readLine().trim());
            Path stat = Path.of("/proc", Long.toString(zombie), "stat");
            long deadline = System.nanoTime() + 10_000_000_000L;
            while (!Files.readString(stat).contains(") Z ") && System.nanoTime() < deadline) {
                Thread.sleep(10);
            }
            assertTrue(Files.readString(stat).contains(") Z "), "the child became a zombie");
            assertTrue(ProcessHandle.of(zombie).map(ProcessHandle::isAlive).orElse(false), "what the JDK says");
            assertFalse(Processes.isRunning(zombie));
        } finally {
            parent.destroyForcibly().waitFor();
        }
    }
}
