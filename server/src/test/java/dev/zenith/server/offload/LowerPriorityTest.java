package dev.zenith.server.offload;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class LowerPriorityTest {
    @Test
    void onlyTheCallingThreadGetsTheLowerPriority() throws Exception {
        Assumptions.assumeTrue(Files.exists(Path.of("/proc/thread-self")), "Linux only");
        Integer before = LowerPriority.niceOfThisThread();
        AtomicReference<Integer> lowered = new AtomicReference<>();
        AtomicReference<Boolean> done = new AtomicReference<>();
        Thread t = new Thread(() -> {
            done.set(LowerPriority.ofThisThread());
            lowered.set(LowerPriority.niceOfThisThread());
        });
        t.start();
        t.join();
        assertTrue(done.get(), "setpriority on the thread's own id");
        assertEquals(Math.max(before, LowerPriority.NICE), lowered.get());
        assertEquals(before, LowerPriority.niceOfThisThread(), "the caller's other threads keep theirs");
    }
}
