package dev.zenith.server.remote;

import dev.zenith.server.testing.DaemonFixture;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.net.http.HttpResponse;
import java.nio.file.Files;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code /remotes}: added, listed, shown and removed as git's remotes are, kept across restarts; bad input is a
 * 400 (a taken name a 409, an unknown one a 404) naming what is wrong, and changes nothing.
 */
class RemotesApiTest {
    DaemonFixture d;

    @BeforeEach
    void start() throws Exception {
        d = new DaemonFixture().startInProcess();
    }

    @AfterEach
    void stop() throws Exception {
        d.close();
    }

    private HttpResponse<String> add(JsonObject body) throws Exception {
        return d.request("PUT", "/remotes", body.encode());
    }

    @Test
    void remotesAreAddedListedAndRemovedAndKeptAcrossRestarts() throws Exception {
        JsonObject team = (JsonObject) d.ok(201, "PUT", "/remotes", new JsonObject().put("name", "team")
                .put("url", "s3://bucket/zenith").put("endpoint", "http://127.0.0.1:9000").put("region", "eu-west-1").encode());
        assertEquals("s3://bucket/zenith", team.getString("url"));
        d.ok(201, "PUT", "/remotes", new JsonObject().put("name", "nas").put("url", "file:///tmp/zenith-nas").encode());
        assertEquals(java.util.List.of("nas", "team"), names());
        assertEquals("eu-west-1", ((JsonObject) d.ok(200, "GET", "/remotes/team", null)).getString("region"));

        d.restartInProcess();
        assertEquals(java.util.List.of("nas", "team"), names());
        d.ok(200, "DELETE", "/remotes/nas", null);
        assertEquals(java.util.List.of("team"), names());
        assertTrue(Files.readString(d.home.resolve("remotes.json")).contains("team"));
    }

    @Test
    void badInputIsRefusedAndChangesNothing() throws Exception {
        d.ok(201, "PUT", "/remotes", new JsonObject().put("name", "team").put("url", "s3://bucket/zenith").encode());
        assertRefused(400, new JsonObject().put("name", "b@d").put("url", "s3://bucket/x"), "invalid remote name");
        assertRefused(400, new JsonObject().put("name", "x").put("url", "http://bucket/x"), "s3://BUCKET/PREFIX or file:///DIR");
        assertRefused(400, new JsonObject().put("name", "x").put("url", "file://relative/dir"), "invalid remote url");
        assertRefused(400, new JsonObject().put("name", "x"), "url");
        assertRefused(400, new JsonObject().put("name", "x").put("url", "file:///tmp/x").put("endpoint", "http://h:1"),
                "for s3:// remotes");
        assertRefused(400, new JsonObject().put("name", "x").put("url", "s3://bucket/x").put("endpoint", "ftp://h"), "endpoint 'ftp://h' is not a URL");
        assertRefused(400, new JsonObject().put("name", "x").put("url", "s3://bucket/x").put("region", "EU WEST"), "is not a region name");
        assertRefused(400, new JsonObject().put("name", "x").put("url", "s3://bucket/x").put("colour", "red"), "colour");
        assertRefused(409, new JsonObject().put("name", "team").put("url", "s3://other/y"), "exists");
        HttpResponse<String> gone = d.request("DELETE", "/remotes/nope", null);
        assertEquals(404, gone.statusCode(), gone.body());
        assertTrue(gone.body().contains("team"), gone.body());
        HttpResponse<String> push = d.request("POST", "/snapshots/main@x/actions",
                new JsonObject().put("action", "push").put("remote", "nope").encode());
        assertEquals(404, push.statusCode(), push.body());
        HttpResponse<String> pull = d.request("POST", "/remotes/team/snapshots/main/actions",
                new JsonObject().put("action", "pull").encode());
        assertEquals(400, pull.statusCode(), pull.body());
        assertEquals(java.util.List.of("team"), names());
        assertEquals("s3://bucket/zenith", ((JsonObject) d.ok(200, "GET", "/remotes/team", null)).getString("url"));
    }

    private void assertRefused(int status, JsonObject body, String says) throws Exception {
        HttpResponse<String> r = add(body);
        assertEquals(status, r.statusCode(), r.body());
        assertTrue(r.body().contains(says), r.body());
    }

    private java.util.List<String> names() throws Exception {
        return ((JsonArray) d.ok(200, "GET", "/remotes", null)).stream().map(o -> ((JsonObject) o).getString("name")).toList();
    }
}
