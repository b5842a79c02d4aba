package dev.zenith.server.replication;

import dev.zenith.server.testing.WalServiceTestBase;
import dev.zenith.testkit.PgCluster;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * What replicas will do: a stock hot standby made by pg_basebackup from the WAL service, with
 * primary_conninfo pointing at the WAL service, streams the primary compute's new WAL from the store.
 */
@Tag("pg")
class WalServiceStandbyTest extends WalServiceTestBase {

    @Test
    void hotStandbyStreamsFromTheWalService() throws Exception {
        JsonObject pg = d.createPg("main");
        int port = pg.getInteger("port");
        d.psql(port, "CREATE TABLE t (id int); INSERT INTO t SELECT generate_series(1, 1000)");

        Path standby = work.resolve("standby");
        clients.baseBackupAsStandby(standby, "-c zenith.pg=main");
        int standbyPort = PgCluster.freePort();
        Path log = work.resolve("standby.log");
        try {
            clients.startServer(standby, standbyPort, log);
            assertEquals("1000", d.psql(standbyPort, "SELECT count(*) FROM t"));

            // Written on the primary after the standby started: arrives through the store and our WAL service.
            d.psql(port, "INSERT INTO t SELECT generate_series(1001, 5000)");
            String primaryLsn = d.psql(port, "SELECT pg_current_wal_flush_lsn()");
            clients.awaitReplay(standbyPort, primaryLsn, log);
            assertEquals("5000", d.psql(standbyPort, "SELECT count(*) FROM t"));
            assertEquals("streaming", d.psql(standbyPort, "SELECT status FROM pg_stat_wal_receiver"));
            assertEquals("t", d.psql(standbyPort, "SELECT pg_is_in_recovery()"));
        } finally {
            clients.stopServer(standby);
        }
    }
}
