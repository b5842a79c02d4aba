package dev.zenith.server.testing;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;

/** A test class whose every test gets a daemon of its own, in this JVM. */
@Tag("pg")
public abstract class FreshDaemonTest {
    protected DaemonFixture d;

    @BeforeEach
    protected void startDaemon() throws Exception {
        d = new DaemonFixture().startInProcess();
    }

    @AfterEach
    protected void stopDaemon() throws Exception {
        d.close();
    }
}
