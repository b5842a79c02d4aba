package dev.zenith.server.replication;

import dev.zenith.server.testing.WalServiceTestBase;
import dev.zenith.testkit.PgCluster;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Real pg_basebackup against the daemon's WAL service, in the three ways people run it; the plain
 * backups pass pg_verifybackup (manifest checksums and pg_waldump over the WAL range) and a postgres
 * started on one answers with the data the compute wrote.
 */
@Tag("pg")
class WalServiceBaseBackupTest extends WalServiceTestBase {

    @Test
    void pgBasebackupStreamFetchAndTarThenVerifyAndStart() throws Exception {
        JsonObject pg = d.createPg("main");
        int port = pg.getInteger("port");
        d.psql(port, "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 30000) g");
        d.psql(port, "CHECKPOINT");
        d.psql(port, "UPDATE t SET v = v || 'x' WHERE id % 7 = 0");
        String expected = d.psql(port, "SELECT count(*), sum(id), md5(string_agg(v, ',' ORDER BY id)) FROM t");

        Path stream = work.resolve("stream");
        clients.run("pg_basebackup", "-D", stream.toString(), "-X", "stream", "-c", "fast", "-l", "zenith test", "-P");
        String verified = clients.offline("pg_verifybackup", stream.toString());
        assertTrue(verified.contains("successfully verified"), verified);
        assertTrue(Files.readString(stream.resolve("backup_label")).contains("LABEL: zenith test"));

        Path fetch = work.resolve("fetch");
        clients.run("pg_basebackup", "-D", fetch.toString(), "-X", "fetch", "--manifest-checksums=SHA256");
        verified = clients.offline("pg_verifybackup", fetch.toString());
        assertTrue(verified.contains("successfully verified"), verified);

        // -Ft, throttled (-r 8M): a tar of N bytes cannot arrive sooner than N / 8 MiB/s seconds.
        Path tar = work.resolve("tar");
        long t0 = System.nanoTime();
        clients.run("pg_basebackup", "-D", tar.toString(), "-Ft", "-X", "fetch", "-r", "8M");
        double seconds = (System.nanoTime() - t0) / 1e9;
        long tarBytes = Files.size(tar.resolve("base.tar"));
        assertTrue(tarBytes > 1 << 20, "base.tar too small");
        assertTrue(Files.exists(tar.resolve("backup_manifest")));
        double floor = 0.9 * tarBytes / (8 << 20);
        assertTrue(seconds >= floor, "MAX_RATE 8 MiB/s: " + tarBytes + " bytes in " + seconds + " s (at least " + floor + ")");

        // The data written after the image's checkpoint comes back through recovery from the backup's WAL.
        for (Path backup : new Path[] {stream, fetch}) {
            int backupPort = PgCluster.freePort();
            Path log = startVanillaOn(backup, backupPort);
            try {
                assertEquals(expected, d.psql(backupPort,
                        "SELECT count(*), sum(id), md5(string_agg(v, ',' ORDER BY id)) FROM t"), Files.readString(log));
                assertTrue(Files.readString(log).contains("consistent recovery state reached"), Files.readString(log));
            } finally {
                clients.asPostgres("pg_ctl", "-D", backup.toString(), "-m", "immediate", "-w", "stop");
            }
        }
    }

    @Test
    void aBackupWithTablespacesStartsOnVanillaPostgres() throws Exception {
        JsonObject pg = d.createPg("main");
        int port = pg.getInteger("port");
        d.psql(port, "CREATE TABLESPACE inside LOCATION ''");
        d.psql(port, "CREATE TABLE t TABLESPACE inside AS SELECT g AS id FROM generate_series(1, 1000) g");
        d.action("main", "stop"); // an image with the tablespace's directory in it
        d.action("main", "start");
        d.psql(port, "CREATE TABLE u TABLESPACE inside AS SELECT 1 AS x"); // and some in the WAL after it

        Path backup = work.resolve("spaces");
        clients.run("pg_basebackup", "-D", backup.toString(), "-X", "stream", "-c", "fast");
        String verified = clients.offline("pg_verifybackup", backup.toString());
        assertTrue(verified.contains("successfully verified"), verified);
        int backupPort = PgCluster.freePort();
        Path log = startVanillaOn(backup, backupPort);
        try {
            assertEquals("1000:1", d.psql(backupPort, "SELECT (SELECT count(*) FROM t) || ':' || (SELECT x FROM u)"),
                    Files.readString(log));
        } finally {
            clients.asPostgres("pg_ctl", "-D", backup.toString(), "-m", "immediate", "-w", "stop");
        }
    }

    /** Starts PostgreSQL 15 on a backup, with its defaults; returns its log. Stop it with pg_ctl -m immediate. */
    private Path startVanillaOn(Path backup, int port) throws Exception {
        Path log = work.resolve(backup.getFileName() + ".log");
        clients.startServer(backup, port, log);
        return log;
    }
}
