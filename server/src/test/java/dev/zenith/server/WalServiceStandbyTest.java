package dev.zenith.server;

import dev.zenith.testkit.PgCluster;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * What replicas will do: a stock hot standby made by pg_basebackup from the WAL service, with
 * primary_conninfo pointing at the WAL service, streams the primary compute's new WAL from the store.
 */
class WalServiceStandbyTest extends WalServiceTestBase {

    @Test
    void hotStandbyStreamsFromTheWalService() throws Exception {
        JsonObject pg = d.createPg("main");
        int port = pg.getInteger("port");
        d.psql(port, "CREATE TABLE t (id int); INSERT INTO t SELECT generate_series(1, 1000)");

        Path standby = work.resolve("standby");
        clients.run("pg_basebackup", "-D", standby.toString(), "-X", "stream");
        Files.writeString(standby.resolve("standby.signal"), "");
        Files.writeString(standby.resolve("postgresql.auto.conf"), "primary_conninfo = 'host=127.0.0.1 port=" + d.pgPort
                + " user=" + WalServiceClients.USER + " password=" + clients.password()
                + " application_name=standby1 options=''-c zenith.pg=main'''\nhot_standby = on\n");
        int standbyPort = PgCluster.freePort();
        Path log = work.resolve("standby.log");
        Files.writeString(log, "");
        d.pg.handOver(work);
        try {
            clients.asPostgres("pg_ctl", "-D", standby.toString(), "-l", log.toString(), "-w", "-t", "120", "-o",
                    "-p " + standbyPort + " -c listen_addresses=127.0.0.1 -c unix_socket_directories=/tmp", "start");
            assertEquals("1000", d.psql(standbyPort, "SELECT count(*) FROM t"));

            // Written on the primary after the standby started: arrives through the store and our WAL service.
            d.psql(port, "INSERT INTO t SELECT generate_series(1001, 5000)");
            String primaryLsn = d.psql(port, "SELECT pg_current_wal_flush_lsn()");
            long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(2);
            while (!d.psql(standbyPort, "SELECT pg_last_wal_replay_lsn() >= '" + primaryLsn + "'").equals("t")) {
                if (System.nanoTime() > deadline) {
                    throw new AssertionError("standby did not replay to " + primaryLsn + ": " + Files.readString(log));
                }
                Thread.sleep(100);
            }
            assertEquals("5000", d.psql(standbyPort, "SELECT count(*) FROM t"));
            assertEquals("streaming", d.psql(standbyPort, "SELECT status FROM pg_stat_wal_receiver"));
            assertEquals("t", d.psql(standbyPort, "SELECT pg_is_in_recovery()"));
        } finally {
            clients.asPostgres("pg_ctl", "-D", standby.toString(), "-m", "immediate", "-w", "stop");
        }
    }
}
