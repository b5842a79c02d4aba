package dev.zenith.server.compute;

import dev.zenith.pgexec.FileTrees;
import dev.zenith.server.testing.DaemonFixture;
import dev.zenith.server.testing.StoreHolder;
import dev.zenith.server.testing.WalServiceClients;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A storage carries its pgs: attached to another daemon (another ZENITH_HOME), its pgs appear there at
 * once, stopped, with that daemon's ports and directories, and start with their data; its snapshots and
 * replication slots come with it. When one of their
 * names is taken, the attach is refused and nothing changes; so it is while another daemon process holds it.
 * A listed storage another process holds when the daemon starts is unavailable until that process lets go,
 * then taken with its pgs, and the ones that ran before start again.
 */
@Tag("pg")
class StorageAdoptionTest {

    @Test
    void aStorageAttachedToAnotherDaemonBringsItsPgs() throws Exception {
        Path storagePath = DaemonFixture.reachableTempDir("zenith-moved-");
        String attach = new JsonObject().put("name", "moved").put("path", storagePath.toString()).encode();

        try (DaemonFixture first = new DaemonFixture().startInProcess()) {
            first.ok(201, "PUT", "/storages", attach);
            JsonObject pg = (JsonObject) first.ok(201, "PUT", "/pgs",
                    new JsonObject().put("name", "traveller").put("storage_name", "moved").encode());
            first.psql(pg.getInteger("port"), "CREATE TABLE luggage(item text); INSERT INTO luggage VALUES ('toothbrush')");
            first.ok(201, "PUT", "/snapshots", new JsonObject().put("name", "traveller@packed").encode());
            String onTraveller = "options='-c zenith.pg=traveller'";
            assertEquals(0, new WalServiceClients(first).psql(onTraveller,
                    "CREATE_REPLICATION_SLOT kept PHYSICAL RESERVE_WAL").exitCode());
            String slot = new WalServiceClients(first).psql(onTraveller, "READ_REPLICATION_SLOT kept").output();
            first.action("traveller", "stop");
            first.inProcessShutdownKeepingHome();

            try (DaemonFixture second = new DaemonFixture().startInProcess()) {
                // A pg of the same name here: refused, nothing attached.
                second.ok(201, "PUT", "/pgs", new JsonObject().put("name", "traveller").put("start", false).encode());
                HttpResponse<String> refused = second.request("PUT", "/storages", attach);
                assertEquals(409, refused.statusCode(), refused.body());
                assertTrue(refused.body().contains("traveller"), refused.body());
                JsonArray storages = (JsonArray) second.ok(200, "GET", "/storages", null);
                assertFalse(storages.encode().contains("\"moved\""), "nothing attached: " + storages);
                assertFalse(Files.readString(second.home.resolve("storages.json")).contains("moved"));

                second.ok(200, "DELETE", "/pgs/traveller", null);
                second.ok(201, "PUT", "/storages", attach);
                // everything it holds is there at once: pgs, snapshots, replication slots
                assertEquals("moved", ((JsonObject) second.ok(200, "GET", "/snapshots/traveller@packed", null))
                        .getString("storage_name"));
                assertEquals(slot, new WalServiceClients(second).psql(onTraveller, "READ_REPLICATION_SLOT kept").output());
                JsonObject adopted = second.pg("traveller");
                assertEquals("moved", adopted.getString("storage_name"));
                assertEquals("stopped", adopted.getString("status"));
                assertNotEquals(pg.getString("pgdata"), adopted.getString("pgdata"),
                        "the pg's directory is this daemon's, not the first one's");

                JsonObject started = second.action("traveller", "start");
                assertEquals("toothbrush", second.psql(started.getInteger("port"), "SELECT item FROM luggage"));
                assertEquals(409, second.request("DELETE", "/storages/moved", null).statusCode(),
                        "an adopted pg keeps its storage attached like any other");
                second.psql(started.getInteger("port"), "INSERT INTO luggage VALUES ('map')");
            }

            // Back on the first daemon, which still lists the storage: the record the second daemon wrote
            // (its port, its directory) is adopted again, so the pg runs from a directory of the first.
            first.startInProcess();
            JsonObject back = first.pg("traveller");
            assertEquals(pg.getString("pgdata"), back.getString("pgdata"), back.encode());
            assertEquals("stopped", back.getString("status"));
            JsonObject restarted = first.action("traveller", "start");
            assertEquals("map,toothbrush", first.psql(restarted.getInteger("port"),
                    "SELECT string_agg(item, ',' ORDER BY item) FROM luggage"));
            first.action("traveller", "stop");
        } finally {
            FileTrees.delete(storagePath);
        }
    }

    @Test
    void aStorageInUseByAnotherDaemonProcessIsRefused() throws Exception {
        Path storagePath = DaemonFixture.reachableTempDir("zenith-shared-");
        String attach = new JsonObject().put("name", "shared").put("path", storagePath.toString()).encode();
        try (DaemonFixture holder = new DaemonFixture().startProcess();
             DaemonFixture other = new DaemonFixture().startInProcess()) {
            holder.ok(201, "PUT", "/storages", attach);
            String registryBefore = Files.readString(other.home.resolve("storages.json"));

            HttpResponse<String> refused = other.request("PUT", "/storages", attach);
            assertEquals(409, refused.statusCode(), refused.body());
            assertTrue(refused.body().contains("in use by another process"), refused.body());
            assertFalse(((JsonArray) other.ok(200, "GET", "/storages", null)).encode().contains("\"shared\""));
            assertEquals(registryBefore, Files.readString(other.home.resolve("storages.json")), "nothing changed");

            holder.killProcess(); // kill -9 releases the storage
            other.ok(201, "PUT", "/storages", attach);

            // Listed here, but held by another daemon when this one starts: unavailable, the rest works.
            other.inProcessShutdownKeepingHome();
            try (DaemonFixture third = new DaemonFixture().startProcess()) {
                third.ok(201, "PUT", "/storages", attach);
                other.startInProcess();
                JsonObject listed = (JsonObject) other.ok(200, "GET", "/storages/shared", null);
                assertEquals("unavailable", listed.getString("status"), listed.encode());
                assertTrue(listed.getString("error").contains("in use by another process"), listed.encode());
                assertEquals(409, other.request("PUT", "/pgs",
                        new JsonObject().put("name", "p").put("storage_name", "shared").encode()).statusCode());
                other.ok(200, "GET", "/storages/local", null);
            }
        } finally {
            FileTrees.delete(storagePath);
        }
    }

    @Test
    void aStorageHeldElsewhereAtStartIsTakenOnceReleased() throws Exception {
        Path storagePath = DaemonFixture.reachableTempDir("zenith-held-");
        String attach = new JsonObject().put("name", "held").put("path", storagePath.toString()).encode();
        try (DaemonFixture d = new DaemonFixture().startInProcess()) {
            d.ok(201, "PUT", "/storages", attach);
            JsonObject pg = (JsonObject) d.ok(201, "PUT", "/pgs",
                    new JsonObject().put("name", "keeper").put("storage_name", "held").encode());
            d.psql(pg.getInteger("port"), "CREATE TABLE kept AS SELECT 'still here' AS what");
            d.inProcessShutdownKeepingHome(); // keeper ran: it should run again

            Process holder = StoreHolder.start(storagePath);
            try {
                d.startInProcess();
                JsonObject listed = (JsonObject) d.ok(200, "GET", "/storages/held", null);
                assertEquals("unavailable", listed.getString("status"), listed.encode());
                assertTrue(listed.getString("error").contains("in use by another process"), listed.encode());
                assertTrue(listed.getString("error").contains("as soon as it is released"), listed.encode());
                // its pgs are not loaded yet, but known by name (the registry file keeps them)
                java.net.http.HttpResponse<String> keeperMeanwhile = d.request("GET", "/pgs/keeper", null);
                assertEquals(409, keeperMeanwhile.statusCode(), keeperMeanwhile.body());
                assertTrue(keeperMeanwhile.body().contains("storage 'held', which is unavailable"), keeperMeanwhile.body());
                // Meanwhile a new pg here gets the port keeper had (nothing here knows keeper yet).
                JsonObject squatter = (JsonObject) d.ok(201, "PUT", "/pgs",
                        new JsonObject().put("name", "squatter").put("start", false).encode());
                assertEquals(pg.getInteger("port"), squatter.getInteger("port"));
            } finally {
                holder.destroyForcibly(); // kill -9 releases the store
                holder.waitFor();
            }

            JsonObject taken = d.awaitJson("/storages/held", j -> "available".equals(j.getString("status")));
            assertEquals(storagePath.toString(), taken.getString("path"));
            JsonObject keeper = d.awaitJson("/pgs/keeper", j -> "running".equals(j.getString("status")));
            assertNotEquals(pg.getInteger("port"), keeper.getInteger("port"), "its old port is squatter's now");
            assertEquals(pg.getString("pgdata"), keeper.getString("pgdata"));
            assertEquals("still here", d.psql(keeper.getInteger("port"), "SELECT what FROM kept"));
            d.action("keeper", "stop");
        } finally {
            FileTrees.delete(storagePath);
        }
    }
}
