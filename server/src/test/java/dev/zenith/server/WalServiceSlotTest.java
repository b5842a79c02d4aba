package dev.zenith.server;

import dev.zenith.wal.Lsn;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A permanent physical slot used by a real pg_receivewal: it advances with the client's feedback and
 * survives a daemon restart (as PostgreSQL's slots do); a dropped one stays dropped.
 */
class WalServiceSlotTest extends WalServiceTestBase {
    @Test
    void aPermanentSlotAdvancesWithItsClientAndSurvivesRestarts() throws Exception {
        int port = d.createPg("main").getInteger("port");
        d.psql(port, "CREATE TABLE t (id int, v text)");
        WalServiceClients.Result created = clients.psql("", "CREATE_REPLICATION_SLOT keep PHYSICAL RESERVE_WAL");
        assertEquals(0, created.exitCode(), created.output());
        Lsn reserved = restartLsn("keep");

        Path out = Files.createDirectories(work.resolve("received"));
        Process receiver = clients.tool("pg_receivewal", "-D", out.toString(), "-S", "keep", "--synchronous",
                "--no-loop").redirectErrorStream(true).redirectOutput(work.resolve("pg_receivewal.log").toFile()).start();
        Lsn advanced;
        try {
            d.psql(port, "INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 50000) g");
            Lsn written = Lsn.parse(d.psql(port, "SELECT pg_current_wal_flush_lsn()"));
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            do {
                assertTrue(receiver.isAlive(), "pg_receivewal exited: " + Files.readString(work.resolve("pg_receivewal.log")));
                assertTrue(System.nanoTime() < deadline, "the slot never reached " + written + "; it is at "
                        + restartLsn("keep"));
                Thread.sleep(200);
                advanced = restartLsn("keep");
            } while (advanced.isBefore(written));
        } finally {
            receiver.destroy();
            receiver.waitFor(1, TimeUnit.MINUTES);
        }
        assertTrue(advanced.isAfter(reserved), advanced + " after " + reserved);

        d.restartInProcess();
        assertEquals(advanced, restartLsn("keep"), "the slot's position survives a restart");
        assertTrue(clients.psql("", "CREATE_REPLICATION_SLOT keep PHYSICAL").output().contains("already exists"));

        assertEquals(0, clients.psql("", "DROP_REPLICATION_SLOT keep").exitCode());
        d.restartInProcess();
        assertEquals("||", clients.psql("", "READ_REPLICATION_SLOT keep").output(), "a dropped slot stays dropped");
    }

    private Lsn restartLsn(String slot) throws Exception {
        String row = clients.psql("", "READ_REPLICATION_SLOT " + slot).output();
        assertTrue(row.matches("physical\\|[0-9A-F]+/[0-9A-F]+\\|1"), row);
        return Lsn.parse(row.split("\\|")[1]);
    }
}
