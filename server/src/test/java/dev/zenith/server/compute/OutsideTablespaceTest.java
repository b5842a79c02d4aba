package dev.zenith.server.compute;

import dev.zenith.server.testing.WalServiceTestBase;
import dev.zenith.testkit.PgCluster;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A tablespace created with an outside LOCATION: the compute that created it keeps that directory, and
 * every compute built from the store (branches, rebuilds, base backups, standbys) gets one of its own
 * inside its data directory, so no two computes share a file.
 */
@Tag("pg")
class OutsideTablespaceTest extends WalServiceTestBase {

    /** The issue's own steps: a branch's committed write survived only until its parent stopped. */
    @Test
    void aBranchKeepsItsOwnWritesToAnOutsideTablespace() throws Exception {
        JsonObject main = d.createPg("main");
        int port = main.getInteger("port");
        Path outside = createOutsideTablespace(port, "outside");
        d.psql(port, "CREATE TABLE tt (x int) TABLESPACE outside; INSERT INTO tt VALUES (1)");
        d.ok(201, "PUT", "/snapshots", new JsonObject().put("name", "main@ts").encode());
        JsonObject b1 = (JsonObject) d.ok(201, "PUT", "/pgs", new JsonObject().put("name", "b1")
                .put("snapshot", "main@ts").encode());
        int branch = b1.getInteger("port");
        d.psql(branch, "UPDATE tt SET x = 42; CHECKPOINT");

        for (String pg : new String[] {"main", "b1"}) {
            d.action(pg, "stop");
        }
        for (String pg : new String[] {"main", "b1"}) {
            d.action(pg, "start");
        }
        assertEquals("42", d.psql(branch, "SELECT x FROM tt"), "the branch's committed update was lost");
        assertEquals("1", d.psql(port, "SELECT x FROM tt"));

        String oid = d.psql(port, "SELECT oid FROM pg_tablespace WHERE spcname = 'outside'");
        Path mainLink = Path.of(main.getString("pgdata"), "pg_tblspc", oid);
        assertTrue(Files.isSymbolicLink(mainLink), "the pg that created it keeps using its own directory");
        assertEquals(outside, Files.readSymbolicLink(mainLink));
        Path branchDir = Path.of(b1.getString("pgdata"), "pg_tblspc", oid);
        assertTrue(Files.isDirectory(branchDir, LinkOption.NOFOLLOW_LINKS), "the branch's copy is in its data directory");
        assertEquals(branchDir.toString(), Path.of(b1.getString("pgdata")).resolve(
                d.psql(branch, "SELECT pg_tablespace_location(" + oid + ")")).toString());

        // A rebuild of the creator itself is a compute built from the store: it gets its own copy too,
        // with the data as of its end, and the outside directory is left alone from then on.
        d.action("main", "stop");
        PgCluster.deleteTree(Path.of(main.getString("pgdata")));
        d.action("main", "start");
        assertTrue(Files.isDirectory(mainLink, LinkOption.NOFOLLOW_LINKS));
        assertEquals("1", d.psql(port, "SELECT x FROM tt"));
        d.psql(port, "UPDATE tt SET x = 7; CHECKPOINT");
        assertEquals("42", d.psql(branch, "SELECT x FROM tt"));
        d.amcheck(port, "-d", "postgres", "--install-missing");
        d.amcheck(branch, "-d", "postgres", "--install-missing");
    }

    /** A base backup and a hot standby of ours replay the creation in place, not onto the creator's directory. */
    @Test
    void baseBackupsAndStandbysGetTheirOwnCopy() throws Exception {
        JsonObject main = d.createPg("main");
        int port = main.getInteger("port");
        createOutsideTablespace(port, "outside");
        d.psql(port, "CREATE TABLE tt TABLESPACE outside AS SELECT g AS x FROM generate_series(1, 1000) g");
        String oid = d.psql(port, "SELECT oid FROM pg_tablespace WHERE spcname = 'outside'");

        Path backup = work.resolve("backup");
        clients.run("pg_basebackup", "-D", backup.toString(), "-X", "stream", "-c", "fast");
        assertTrue(clients.offline("pg_verifybackup", backup.toString()).contains("successfully verified"));
        clients.makeStandby(backup, null);
        int standbyPort = PgCluster.freePort();
        Path log = work.resolve("standby.log");
        clients.startServer(backup, standbyPort, log);
        try {
            assertEquals("1000", d.psql(standbyPort, "SELECT count(*) FROM tt"), Files.readString(log));
            // A second outside tablespace, created while the standby streams.
            createOutsideTablespace(port, "second");
            d.psql(port, "CREATE TABLE t2 TABLESPACE second AS SELECT 5 AS y");
            String oid2 = d.psql(port, "SELECT oid FROM pg_tablespace WHERE spcname = 'second'");
            for (int i = 0; i < 600 && !d.psql(standbyPort, "SELECT count(*) FROM pg_class WHERE relname = 't2'").equals("1"); i++) {
                Thread.sleep(100);
            }
            assertEquals("5", d.psql(standbyPort, "SELECT y FROM t2"), Files.readString(log));
            for (String o : new String[] {oid, oid2}) {
                assertTrue(Files.isDirectory(backup.resolve("pg_tblspc").resolve(o), LinkOption.NOFOLLOW_LINKS),
                        "pg_tblspc/" + o + " of the standby must be its own directory");
            }
        } finally {
            clients.stopServer(backup);
        }
        assertEquals("1000", d.psql(port, "SELECT count(*) FROM tt"));
    }

    /** A tablespace in a new directory outside the data directory (PostgreSQL's user owns it); returns it. */
    private Path createOutsideTablespace(int port, String name) throws Exception {
        Path dir = work.resolve("outside-" + name);
        Files.createDirectories(dir);
        d.pg.handOver(dir);
        d.psql(port, "CREATE TABLESPACE " + name + " LOCATION '" + dir + "'");
        return dir;
    }
}
