package dev.zenith.server.compute;

import dev.zenith.pgexec.FileTrees;
import dev.zenith.server.testing.DaemonFixture;
import dev.zenith.wal.Lsn;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A clean stop's image reads from the directory only the forks the change index says changed since the previous
 * image (or whose size changed) and carries the others over. Garbage collection on pages may raise the horizon past
 * that previous image (which it keeps: it gives a directory built at a kept base its other files) and drop the change
 * index below it, so a relation changed only between the previous image and the horizon is not read again. The image
 * is still exact: a carried-over fork is not the previous image's pages but the newest version of each block at or
 * below the new image's LSN, and the horizon is the checkpoint of a kept base, a materialization step whose versions
 * hold every block changed since the base before it (kept by thinning: the step's redo point is a cut, and a block
 * changed no more keeps its newest version). Real WAL: a table changed in place (same size, no vacuum, no read that
 * sets hint bits: only the update names it), two WAL switches, a step and a collection above it, a clean stop; the
 * directory built again from that stop's image reads the new rows, and pg_amcheck finds nothing. It fails if the
 * image took the carried fork from the previous image or if collection dropped the step's version.
 */
@Tag("pg")
@Tag("slow")
class CleanStopImageAfterGcTest {

    @Test
    void aRelationChangedOnlyBelowTheGcHorizonIsReadAgainAtTheNextCleanStop() throws Exception {
        try (DaemonFixture d = new DaemonFixture()) {
            d.startProcess(); // its own JVM: materialization steps are told in ZENITH_HOME/zenith.log
            d.ok(201, "PUT", "/storages", new JsonObject().put("name", "short").put("pitr", "0s")
                    .put("path", d.home.resolve("short").toString()).encode());
            JsonObject main = (JsonObject) d.ok(201, "PUT", "/pgs", new JsonObject().put("name", "main")
                    .put("storage_name", "short").encode());
            int port = main.getInteger("port");
            // room in its one page, so the update below changes it in place (the fork keeps its size); nothing touches
            // it after (no vacuum, no read setting hint bits), so only the update's records name it
            d.psql(port, "CREATE TABLE cold (id int PRIMARY KEY, v text) WITH (fillfactor = 50, autovacuum_enabled = false);"
                    + " INSERT INTO cold SELECT g, 'old' FROM generate_series(1, 20) g; CREATE TABLE hot (x int)");
            stop(d, "main"); // the previous image: cold as it is now
            d.action("main", "start");
            String sizeBefore = d.psql(port, "SELECT pg_relation_size('cold')");

            d.psql(port, "UPDATE cold SET v = 'new'");
            Lsn changed = Lsn.parse(d.psql(port, "SELECT pg_current_wal_lsn()"));
            d.psql(port, "SELECT pg_switch_wal()");
            d.psql(port, "INSERT INTO hot VALUES (1)");
            d.psql(port, "SELECT pg_switch_wal()");
            d.psql(port, "INSERT INTO hot VALUES (2)");
            d.psql(port, "CHECKPOINT");
            Lsn redo = Lsn.parse(d.psql(port, "SELECT redo_lsn FROM pg_control_checkpoint()"));
            // a commit past the step: a window of 0 s starts at the last commit, and its base is the newest at or below it
            d.psql(port, "INSERT INTO hot VALUES (3)");
            d.awaitStepOfAnchor(redo); // a base two segments past the update
            d.ok(200, "GET", "/pgs/main/log?limit=1", null); // a pg's log waits until the store holds its commits
            d.ok(200, "POST", "/storages/short/gc", new JsonObject().put("pitr", "0s").encode());
            Lsn horizon = horizonOf(d, d.pg("main").getString("timeline_id"));
            assertTrue(horizon.isAfter(changed), "the horizon " + horizon + " passed the update at " + changed);
            assertEquals(sizeBefore, d.psql(port, "SELECT pg_relation_size('cold')"), "cold changed in place");

            d.psql(port, "INSERT INTO hot VALUES (4)");
            stop(d, "main"); // the image this stop takes is the newest base at the end
            FileTrees.delete(Path.of(d.pg("main").getString("pgdata")));
            d.action("main", "start"); // the directory built again from the store at its end
            assertEquals("20 new", d.psql(port, "SELECT count(*) || ' ' || string_agg(DISTINCT v, ',') FROM cold"));
            assertEquals("1,2,3,4", d.psql(port, "SELECT string_agg(x::text, ',' ORDER BY x) FROM hot"));
            d.amcheck(port, "--all", "--install-missing");
        }
    }

    private static void stop(DaemonFixture d, String name) throws Exception {
        d.action(name, "stop");
        d.awaitJson("/pgs/" + name, j -> "stopped".equals(j.getString("status")));
    }

    private static Lsn horizonOf(DaemonFixture d, String timeline) throws Exception {
        for (Object o : (JsonArray) d.ok(200, "GET", "/storages/short/timelines", null)) {
            JsonObject t = (JsonObject) o;
            if (t.getString("timeline_id").equals(timeline)) {
                return Lsn.parse(t.getString("retention_horizon"));
            }
        }
        throw new AssertionError(timeline + " not listed");
    }
}
