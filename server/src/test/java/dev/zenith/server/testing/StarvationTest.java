package dev.zenith.server.testing;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class StarvationTest {
    private static final String PLAIN_JAVA = """
            event loop blocked: vert.x-eventloop-thread-0 for 4750 ms (limit 2000 ms; %s; load %s on 2 cores)
            \tat java.base@17.0.15/java.util.concurrent.ConcurrentHashMap.isEmpty(ConcurrentHashMap.java:920)
            \tat app//dev.zenith.server.storages.StorageRegistry.anyHeldElsewhere(StorageRegistry.java:144)""";

    @Test
    void aRunnableLoopInPlainJavaOnAnOverloadedMachineProvesNothing() {
        assertTrue(Starvation.explains(PLAIN_JAVA.formatted("RUNNABLE", "29.1")));
    }

    @Test
    void aLoopSeenIdleInItsSelectorOnAnOverloadedMachineProvesNothing() {
        String idle = """
                event loop blocked: vert.x-eventloop-thread-1 for 3100 ms (limit 1000 ms; RUNNABLE; load %s on 2 cores)
                \tat java.base@17.0.15/sun.nio.ch.EPoll.wait(Native Method)
                \tat java.base@17.0.15/sun.nio.ch.EPollSelectorImpl.doSelect(EPollSelectorImpl.java:118)""";
        assertTrue(Starvation.explains(idle.formatted("44.0")));
        assertFalse(Starvation.explains(idle.formatted("1.5")));
    }

    @Test
    void everyOtherReportCounts() {
        assertFalse(Starvation.explains(PLAIN_JAVA.formatted("RUNNABLE", "3.0")), "a machine that is not overloaded");
        assertFalse(Starvation.explains(PLAIN_JAVA.formatted("TIMED_WAITING", "29.1")), "a sleeping or waiting loop");
        assertFalse(Starvation.explains(PLAIN_JAVA.formatted("BLOCKED", "29.1")), "a loop waiting for a monitor");
        assertFalse(Starvation.explains(PLAIN_JAVA.formatted("RUNNABLE", "29.1")
                + "\n\tat app//org.lmdbjava.Txn.commit(Txn.java:97)"), "an LMDB commit");
        assertFalse(Starvation.explains(PLAIN_JAVA.formatted("RUNNABLE", "29.1")
                + "\n\tat java.base@17.0.15/sun.nio.ch.FileDispatcherImpl.force0(Native Method)"), "an fsync");
        assertFalse(Starvation.explains("event loop blocked: vert.x-eventloop-thread-0 for 4750 ms (limit 2000 ms)"
                + "\n\tat java.base@17.0.15/java.util.HashMap.get(HashMap.java:1)"), "a report without circumstances");
    }
}
