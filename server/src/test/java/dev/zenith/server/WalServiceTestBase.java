package dev.zenith.server;

import dev.zenith.testkit.PgCluster;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;

import java.nio.file.Path;

/** A daemon of its own per test, PostgreSQL's replication tools pointed at it, and a scratch directory. */
@Tag("pg")
abstract class WalServiceTestBase extends FreshDaemonTest {
    WalServiceClients clients;
    Path work;

    @BeforeEach
    void prepareClients() throws Exception {
        clients = new WalServiceClients(d);
        work = DaemonFixture.reachableTempDir("walservice-");
    }

    @AfterEach
    void removeScratch() {
        PgCluster.deleteTree(work);
    }
}
