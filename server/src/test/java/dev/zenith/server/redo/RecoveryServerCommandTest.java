package dev.zenith.server.redo;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** How the redo run's pg_ctl calls are run: their limit applies however long the command keeps its output open. */
class RecoveryServerCommandTest {
    @TempDir
    Path dir;

    @Test
    void aCommandStillRunningAtTheLimitIsKilledWithAClearError() {
        long started = System.nanoTime();
        // it holds its output open as long as it runs: a pipe read to its end would wait the whole 120 s
        IOException e = assertThrows(IOException.class,
                () -> RecoveryServer.run(List.of("sh", "-c", "echo starting; exec sleep 120"), dir.resolve("out"), Duration.ofSeconds(1)));
        long seconds = TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - started);
        assertTrue(seconds < 60, "returned after " + seconds + " s");
        assertTrue(e.getMessage().endsWith("sleep 120 did not return within 1 s; killed"), e.getMessage());
    }

    @Test
    void aFailedCommandSaysItsExitCodeAndOutput() throws Exception {
        assertEquals("exited with 3: oops", RecoveryServer.run(List.of("sh", "-c", "echo oops >&2; exit 3"), dir.resolve("out"),
                Duration.ofMinutes(1)));
        assertEquals("", RecoveryServer.run(List.of("true"), dir.resolve("out"), Duration.ofMinutes(1)));
    }
}
