package dev.zenith.server.testing;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A daemon run as its own process is held to the event-loop rule too: its log is read when the fixture closes.
 * Tagged pg: a daemon needs PostgreSQL's binaries installed, and each start of a JVM costs the quick subset seconds.
 */
@Tag("pg")
class ProcessDaemonBlockedLoopTest {
    @Test
    void aBlockedEventLoopInTheDaemonProcessFailsTheFixtureAtCloseNamingWhere() throws Exception {
        DaemonFixture d = new DaemonFixture();
        // A limit of 1 ms (checked every 10 ms): the daemon's first requests after its start, loading classes
        // on the event loop, run longer than that, as a task that really blocks would.
        d.jvmOptions.add("-Dzenith.maxEventLoopMillis=1");
        d.forgiveStarvation = false; // those are runnable stalls in plain Java: on a loaded machine they would be forgiven
        d.startProcess();
        boolean closed = false;
        try {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            List<String> blocked = d.blockedEventLoops();
            while (blocked.isEmpty() && System.nanoTime() < deadline) {
                d.request("GET", "/openapi.json", null);
                d.request("GET", "/pgs", null);
                d.request("PUT", "/pgs", "{not json");
                blocked = d.blockedEventLoops();
            }
            assertFalse(blocked.isEmpty(), "no blocked event loop reported in the daemon's log:\n" + d.log());
            assertTrue(blocked.get(0).startsWith("event loop blocked: vert.x-eventloop-thread-"), blocked.get(0));
            assertTrue(blocked.get(0).contains("\n\tat "), "with the stack it was stuck in: " + blocked.get(0));
            closed = true;
            AssertionError failed = assertThrows(AssertionError.class, d::close);
            assertTrue(failed.getMessage().startsWith("the daemon blocked an event loop"), failed.getMessage());
        } finally {
            if (!closed) {
                try {
                    d.close();
                } catch (AssertionError expected) {
                    // the daemon did block; the assertion above says what went wrong
                }
            }
        }
    }

    @Test
    void atTheUsualLimitADaemonProcessAnsweringRequestsReportsNone() throws Exception {
        DaemonFixture d = new DaemonFixture();
        d.startProcess();
        d.request("GET", "/pgs", null);
        assertEquals(List.of(), d.blockedEventLoops());
        d.close();
    }
}
