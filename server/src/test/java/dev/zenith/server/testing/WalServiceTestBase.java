package dev.zenith.server.testing;

import dev.zenith.testkit.PgCluster;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;

import java.nio.file.Path;

/** A daemon of its own per test, PostgreSQL's replication tools pointed at it, and a scratch directory. */
@Tag("pg")
public abstract class WalServiceTestBase extends FreshDaemonTest {
    protected WalServiceClients clients;
    protected Path work;

    @BeforeEach
    protected void prepareClients() throws Exception {
        clients = new WalServiceClients(d);
        work = DaemonFixture.reachableTempDir("walservice-");
    }

    @AfterEach
    protected void removeScratch() {
        PgCluster.deleteTree(work);
    }
}
