package dev.zenith.server.api;

import dev.zenith.server.testing.DaemonFixture;
import dev.zenith.testkit.PgCluster;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Bad REST input gets a clear JSON error with the right status, and changes nothing. */
@Tag("pg")
class RestValidationTest {
    static DaemonFixture d;

    @BeforeAll
    static void start() throws Exception {
        d = new DaemonFixture().startInProcess();
        d.ok(201, "PUT", "/pgs", new JsonObject().put("name", "main").put("start", false).encode());
    }

    @AfterAll
    static void stop() throws Exception {
        d.close();
    }

    private String state() throws Exception {
        return d.ok(200, "GET", "/pgs", null).toString() + d.ok(200, "GET", "/storages", null);
    }

    private void rejected(int status, String method, String path, String body, String messagePart) throws Exception {
        String before = state();
        HttpResponse<String> r = d.request(method, path, body);
        assertEquals(status, r.statusCode(), r.body());
        String error = new JsonObject(r.body()).getString("error");
        assertTrue(error != null && error.contains(messagePart), "error '" + error + "' should mention '" + messagePart + "'");
        assertEquals(before, state(), "a rejected request changed state");
    }

    @Test
    void localStorageExistsAfterFirstStart() throws Exception {
        JsonArray storages = (JsonArray) d.ok(200, "GET", "/storages", null);
        assertEquals("local", storages.getJsonObject(0).getString("name"));
        assertEquals("native", storages.getJsonObject(0).getString("type"));
    }

    @Test
    void malformedAndMistypedBodies() throws Exception {
        rejected(400, "PUT", "/pgs", "{not json", "malformed JSON");
        rejected(400, "PUT", "/pgs", "{\"name\": \"x\"", "malformed JSON: Unexpected end-of-input: expected close marker for Object (line 1, column ");
        rejected(400, "PUT", "/pgs", "[1,2]", "JSON object");
        rejected(400, "PUT", "/pgs", "", "JSON object");
        rejected(400, "PUT", "/pgs", "{\"name\": 42}", "must be a string");
        rejected(400, "PUT", "/pgs", "{\"name\": \"x\", \"start\": \"yes\"}", "true or false");
        rejected(400, "PUT", "/pgs", "{\"name\": \"x\", \"storage\": \"local\"}", "unknown field");
        rejected(400, "PUT", "/pgs", "{}", "'name' is required");
        rejected(400, "PUT", "/storages", "{\"name\": \"s\", \"type\": \"native\", \"path\": 7}", "must be a string");
        rejected(400, "PUT", "/storages", "{\"name\": \"s\", \"path\": \"relative/dir\"}", "must be absolute");
        rejected(400, "PUT", "/storages", "{\"name\": \"s\", \"path\": \"/tmp/a\\u0000b\"}", "not a path");
        rejected(400, "PUT", "/storages", "{\"name\": \"s\", \"path\": \"/tmp/a\\nb\"}", "control character");
    }

    @Test
    void badNames() throws Exception {
        rejected(400, "PUT", "/pgs", "{\"name\": \"Main\"}", "[a-z0-9]");
        rejected(400, "PUT", "/pgs", "{\"name\": \"-x\"}", "[a-z0-9]");
        rejected(400, "PUT", "/pgs", "{\"name\": \"" + "a".repeat(64) + "\"}", "[a-z0-9]");
        rejected(400, "PUT", "/pgs", "{\"name\": \"a/b\"}", "[a-z0-9]");
        rejected(400, "PUT", "/storages", "{\"name\": \"S 1\", \"path\": \"/tmp/x\"}", "[a-z0-9]");
    }

    @Test
    void unknownThings() throws Exception {
        rejected(404, "PUT", "/pgs", "{\"name\": \"x\", \"storage_name\": \"nope\"}", "storage 'nope' not found");
        rejected(404, "GET", "/pgs/nope", null, "pg 'nope' not found");
        rejected(404, "DELETE", "/pgs/nope", null, "pg 'nope' not found");
        rejected(404, "POST", "/pgs/nope/actions", "{\"action\": \"start\"}", "pg 'nope' not found");
        rejected(404, "GET", "/storages/nope", null, "storage 'nope' not found");
        rejected(404, "DELETE", "/storages/nope", null, "storage 'nope' not found");
        rejected(404, "GET", "/nothing-here", null, "no such endpoint");
        rejected(400, "POST", "/pgs/main/actions", "{\"action\": \"explode\"}", "unknown action 'explode'; expected start, stop, promote or checkout");
        rejected(400, "PUT", "/storages", "{\"name\": \"s3x\", \"type\": \"s3\", \"path\": \"/tmp/x\"}", "not an s3:// URL");
        rejected(400, "PUT", "/storages", "{\"name\": \"tape\", \"type\": \"tape\", \"path\": \"/tmp/x\"}", "type");
    }

    @Test
    void conflicts() throws Exception {
        rejected(409, "PUT", "/pgs", "{\"name\": \"main\"}", "already exists");
        rejected(409, "DELETE", "/storages/local", null, "used by pg(s) [main]");
        rejected(409, "POST", "/pgs/main/actions", "{\"action\": \"stop\"}", "not running");
        rejected(409, "PUT", "/storages", new JsonObject().put("name", "other")
                .put("path", d.home.resolve("storages/local").toString()).encode(), "already attached");
        // a storage inside another's directory (or around it) would make that one unreadable at the next start
        rejected(409, "PUT", "/storages", new JsonObject().put("name", "inner")
                .put("path", d.home.resolve("storages/local/inner").toString()).encode(), "inside storage 'local'");
        rejected(409, "PUT", "/storages", new JsonObject().put("name", "outer")
                .put("path", d.home.resolve("storages").toString()).encode(), "around storage 'local'");
        assertFalse(java.nio.file.Files.exists(d.home.resolve("storages/local/inner")));
        rejected(409, "PUT", "/storages", new JsonObject().put("name", "local").put("path", "/tmp/elsewhere").encode(),
                "already exists");
    }

    /**
     * Places that alias other state are refused the same through symbolic links (real paths compare), and
     * so are the daemon's own directories: the computes' (pg destroy deletes there) and the base backups'
     * scratch directory (emptied at every start).
     */
    @Test
    void storagePathsThatAliasOtherStateAreRefused() throws Exception {
        Path links = DaemonFixture.reachableTempDir("zenith-links-");
        try {
            Path link = Files.createSymbolicLink(links.resolve("link"), d.home.resolve("storages/local"));
            rejected(409, "PUT", "/storages", new JsonObject().put("name", "sub")
                    .put("path", link.resolve("sub").toString()).encode(), "inside storage 'local'");
            assertFalse(Files.exists(d.home.resolve("storages/local/sub")), "nothing created in local");
            rejected(409, "PUT", "/storages", new JsonObject().put("name", "same")
                    .put("path", link.toString()).encode(), "already attached as storage 'local'");
            Path aroundLink = Files.createSymbolicLink(links.resolve("around"), d.home.resolve("storages"));
            rejected(409, "PUT", "/storages", new JsonObject().put("name", "around")
                    .put("path", aroundLink.toString()).encode(), "around storage 'local'");
            rejected(409, "PUT", "/storages", new JsonObject().put("name", "incompute")
                    .put("path", d.home.resolve("pgs/main/inner").toString()).encode(), "inside the directory of the computes");
            rejected(409, "PUT", "/storages", new JsonObject().put("name", "computes")
                    .put("path", d.home.resolve("pgs").toString()).encode(), "the directory of the computes");
            Path toComputes = Files.createSymbolicLink(links.resolve("computes"), d.home.resolve("pgs"));
            rejected(409, "PUT", "/storages", new JsonObject().put("name", "viacompute")
                    .put("path", toComputes.resolve("x").toString()).encode(), "inside the directory of the computes");
            rejected(409, "PUT", "/storages", new JsonObject().put("name", "scratch")
                    .put("path", d.home.resolve("tmp/mine").toString()).encode(), "inside the base backups' scratch directory");
            assertFalse(Files.exists(d.home.resolve("pgs/main/inner")));
        } finally {
            PgCluster.deleteTree(links);
        }
    }

    /**
     * A storage that lies in the computes' directory (attached before that directory was moved there) is
     * unavailable, and nothing that deletes compute directories (pg destroy, start, create) deletes it.
     */
    @Test
    void aStorageInsideTheComputesDirectoryIsNeverDeleted() throws Exception {
        Path computes = DaemonFixture.reachableTempDir("zenith-computes-");
        try (DaemonFixture own = new DaemonFixture()) {
            own.startInProcess();
            Path storage = computes.resolve("inner");
            own.ok(201, "PUT", "/storages", new JsonObject().put("name", "inner").put("path", storage.toString()).encode());
            own.ok(201, "PUT", "/pgs", new JsonObject().put("name", "keeper").put("storage_name", "inner").put("start", false).encode());
            own.ok(201, "PUT", "/pgs", new JsonObject().put("name", "inner").put("start", false).encode());
            own.inProcessShutdownKeepingHome();

            own.computesDir = computes; // the pg named "inner" now has the storage's directory for its own
            own.startInProcess();
            JsonObject listed = (JsonObject) own.ok(200, "GET", "/storages/inner", null);
            assertEquals("unavailable", listed.getString("status"), listed.encode());
            assertTrue(listed.getString("error").contains("inside the directory of the computes"), listed.encode());
            HttpResponse<String> destroy = own.request("DELETE", "/pgs/inner", null);
            assertEquals(409, destroy.statusCode(), destroy.body());
            assertTrue(destroy.body().contains("holds storage 'inner'"), destroy.body());
            HttpResponse<String> start = own.request("POST", "/pgs/inner/actions", "{\"action\": \"start\"}");
            assertEquals(409, start.statusCode(), start.body());
            assertTrue(Files.isRegularFile(storage.resolve("data.mdb")), "the storage's files are all there");

            own.ok(200, "DELETE", "/storages/inner", null); // detached, its files stay, and it can go elsewhere
            Path moved = computes.resolveSibling(computes.getFileName() + "-moved");
            Files.move(storage, moved);
            try {
                own.ok(201, "PUT", "/storages", new JsonObject().put("name", "inner").put("path", moved.toString()).encode());
                assertEquals("stopped", own.pg("keeper").getString("status"));
                own.ok(200, "DELETE", "/pgs/inner", null);
            } finally {
                PgCluster.deleteTree(moved);
            }
        } finally {
            PgCluster.deleteTree(computes);
        }
    }

    @Test
    void aPgThatIsCreatedButCannotStartSaysItExists() throws Exception {
        try (DaemonFixture own = new DaemonFixture()) {
            own.computeSettings.put("shared_buffers", "lots"); // PostgreSQL refuses to start with it
            own.startInProcess();
            HttpResponse<String> r = own.request("PUT", "/pgs", new JsonObject().put("name", "p").encode());
            assertEquals(500, r.statusCode(), r.body());
            String error = new JsonObject(r.body()).getString("error");
            assertTrue(error.startsWith("pg 'p' was created (stopped), but: pg 'p' failed to start: "), error);
            assertTrue(error.contains("shared_buffers"), "PostgreSQL's own words are in it: " + error);
            assertEquals("stopped", ((JsonObject) own.ok(200, "GET", "/pgs/p", null)).getString("status"));
        }
    }

    @Test
    void aPortTakenByAnotherProgramIsNamed() throws Exception {
        int port = ((JsonObject) d.ok(200, "GET", "/pgs/main", null)).getInteger("port");
        try (java.net.ServerSocket taken = new java.net.ServerSocket(port, 1, java.net.InetAddress.getLoopbackAddress())) {
            rejected(409, "POST", "/pgs/main/actions", "{\"action\": \"start\"}",
                    "port " + port + " of pg 'main' is in use by another program");
        }
    }

    @Test
    void aCorruptStorageIsReportedAndTheOthersKeepWorking() throws Exception {
        DaemonFixture own = new DaemonFixture().startInProcess();
        try {
            java.nio.file.Path path = own.home.resolve("fragile");
            own.ok(201, "PUT", "/storages", new JsonObject().put("name", "fragile").put("path", path.toString()).encode());
            own.ok(201, "PUT", "/pgs", new JsonObject().put("name", "held").put("storage_name", "fragile").put("start", false).encode());
            own.restartInProcess().restartInProcess(); // opens cleanly again, twice
            own.ok(200, "GET", "/storages/fragile", null);
            own.inProcessShutdownKeepingHome();
            java.nio.file.Files.write(path.resolve("data.mdb"), new byte[8192]); // its LMDB file zeroed
            own.startInProcess();

            JsonObject fragile = (JsonObject) own.ok(200, "GET", "/storages/fragile", null);
            assertEquals("unavailable", fragile.getString("status"), fragile.encode());
            assertTrue(fragile.getString("error") != null && !fragile.getString("error").isBlank(), fragile.encode());
            HttpResponse<String> use = own.request("PUT", "/pgs",
                    new JsonObject().put("name", "p").put("storage_name", "fragile").encode());
            assertEquals(409, use.statusCode(), use.body());
            assertTrue(use.body().contains("unavailable"), use.body());
            assertEquals("available", ((JsonObject) own.ok(200, "GET", "/storages/local", null)).getString("status"));
            own.createPg("works"); // the other storages keep working

            // its pg is still listed, answers 409, and keeps its name
            JsonObject held = ((JsonArray) own.ok(200, "GET", "/pgs", null)).stream().map(JsonObject.class::cast)
                    .filter(p -> p.getString("name").equals("held")).findFirst().orElseThrow();
            assertEquals("unavailable", held.getString("status"), held.encode());
            assertEquals("fragile", held.getString("storage_name"), held.encode());
            for (HttpResponse<String> r : List.of(own.request("GET", "/pgs/held", null),
                    own.request("POST", "/pgs/held/actions", "{\"action\": \"start\"}"),
                    own.request("DELETE", "/pgs/held", null),
                    own.request("PUT", "/pgs", new JsonObject().put("name", "held").encode()))) {
                assertEquals(409, r.statusCode(), r.body());
                assertTrue(r.body().contains("storage 'fragile'") && r.body().contains("unavailable"), r.body());
            }

            own.ok(200, "DELETE", "/storages/fragile", null); // and the broken one can be detached
            assertEquals(404, own.request("GET", "/storages/fragile", null).statusCode());
            assertEquals(404, own.request("GET", "/pgs/held", null).statusCode(), "its pgs went with it");
        } finally {
            own.close();
        }
    }

    @Test
    void attachShowDetachAStorage() throws Exception {
        String path = d.home.resolve("extra-storage").toString();
        JsonObject s = (JsonObject) d.ok(201, "PUT", "/storages",
                new JsonObject().put("name", "extra").put("type", "native").put("path", path).encode());
        assertEquals(path, s.getString("path"));
        assertEquals("extra", ((JsonObject) d.ok(200, "GET", "/storages/extra", null)).getString("name"));
        d.ok(200, "DELETE", "/storages/extra", null);
        d.request("GET", "/storages/extra", null);
        assertEquals(404, d.request("GET", "/storages/extra", null).statusCode());
    }
}
