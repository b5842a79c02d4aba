package dev.zenith.server;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;

/** A test class whose every test gets a daemon of its own, in this JVM. */
abstract class FreshDaemonTest {
    DaemonFixture d;

    @BeforeEach
    void startDaemon() throws Exception {
        d = new DaemonFixture().startInProcess();
    }

    @AfterEach
    void stopDaemon() throws Exception {
        d.close();
    }
}
