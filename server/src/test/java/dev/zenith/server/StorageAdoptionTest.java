package dev.zenith.server;

import dev.zenith.pgexec.FileTrees;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;

import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A storage carries its pgs: attached to another daemon (another ZENITH_HOME), its pgs appear there
 * stopped, with that daemon's ports and directories, and start with their data. When one of their
 * names is taken, the attach is refused and nothing changes; so it is while another daemon process holds it.
 */
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
                JsonObject adopted = second.pg("traveller");
                assertEquals("moved", adopted.getString("storage_name"));
                assertEquals("stopped", adopted.getString("status"));
                assertNotEquals(pg.getString("pgdata"), adopted.getString("pgdata"),
                        "the pg's directory is this daemon's, not the first one's");

                JsonObject started = second.action("traveller", "start");
                assertEquals("toothbrush", second.psql(started.getInteger("port"), "SELECT item FROM luggage"));
                assertEquals(409, second.request("DELETE", "/storages/moved", null).statusCode(),
                        "an adopted pg keeps its storage attached like any other");
            }
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
}
