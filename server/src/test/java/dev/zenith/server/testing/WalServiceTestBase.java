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

    /**
     * The daemon stops before its scratch goes: storages created under it have work of their own (a ready data
     * directory's update) that would write into a directory being deleted.
     */
    @Override
    @AfterEach
    protected void stopDaemon() throws Exception {
        try {
            super.stopDaemon();
        } finally {
            PgCluster.deleteTree(work);
        }
    }
}
