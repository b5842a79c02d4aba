package dev.zenith.server;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;

/** A test class whose every test gets a daemon of its own, in this JVM. */
@Tag("pg")
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
