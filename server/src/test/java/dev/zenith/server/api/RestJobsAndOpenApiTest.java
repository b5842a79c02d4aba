package dev.zenith.server.api;

import dev.zenith.server.api.RequestGuard;
import dev.zenith.server.api.RestApi;
import dev.zenith.server.testing.CheckedVertx;
import dev.zenith.server.testing.DaemonFixture;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Route;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Long actions as jobs over REST (asked for with Prefer: respond-async, unchanged otherwise), and the
 * OpenAPI document: every route of the router is in it, and every route it documents answers.
 */
@Tag("pg")
class RestJobsAndOpenApiTest {
    static DaemonFixture d;
    static final HttpClient HTTP = HttpClient.newHttpClient();

    @BeforeAll
    static void start() throws Exception {
        d = new DaemonFixture().startInProcess();
    }

    @AfterAll
    static void stop() throws Exception {
        d.close();
    }

    private static HttpResponse<String> send(String method, String path, String body, String prefer) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + d.httpPort + path))
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body))
                .header("Authorization", "Bearer " + d.apiToken());
        if (body != null) {
            b.header("Content-Type", "application/json");
        }
        if (prefer != null) {
            b.header("Prefer", prefer);
        }
        b.timeout(java.time.Duration.ofSeconds(60)); // a route that never answers fails the test, naming it
        return HTTP.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void aClientThatAsksGetsAJobToFollowAndOthersTheAnswerAsBefore() throws Exception {
        HttpResponse<String> accepted = send("PUT", "/pgs", new JsonObject().put("name", "jobbed").encode(), "respond-async");
        assertEquals(202, accepted.statusCode(), accepted.body());
        String location = accepted.headers().firstValue("location").orElseThrow();
        assertTrue(location.matches("/jobs/\\d+"), location);
        assertEquals("respond-async", accepted.headers().firstValue("preference-applied").orElse(null));
        JsonObject job = d.awaitJson(location, j -> !j.getString("state").equals("running"));
        assertEquals("succeeded", job.getString("state"), job.encodePrettily());
        assertEquals("PUT /pgs", job.getString("action"));
        assertTrue(job.getJsonArray("phases").contains("starting PostgreSQL (it replays the WAL since its starting point)"),
                job.encodePrettily());
        assertEquals("running", job.getJsonObject("result").getString("status"));
        assertEquals("1", d.psql(job.getJsonObject("result").getInteger("port"), "SELECT 1"));

        // a rebuild reports the bytes it writes
        d.action("jobbed", "stop");
        HttpResponse<String> branch = send("PUT", "/pgs", new JsonObject().put("name", "jobbed2").put("from", "jobbed").encode(),
                "respond-async");
        JsonObject done = d.awaitJson(branch.headers().firstValue("location").orElseThrow(),
                j -> !j.getString("state").equals("running"));
        assertTrue(done.getJsonArray("phases").contains("rebuilding the data directory from the store"), done.encodePrettily());

        // a failing job says why, with the status the synchronous answer would have had
        HttpResponse<String> bad = send("PUT", "/pgs", new JsonObject().put("name", "jobbed").encode(), "respond-async");
        JsonObject failed = d.awaitJson(bad.headers().firstValue("location").orElseThrow(),
                j -> !j.getString("state").equals("running"));
        assertEquals("failed", failed.getString("state"));
        assertEquals(409, failed.getInteger("error_status"));
        assertTrue(failed.getString("error").contains("already exists"), failed.encode());

        // without Prefer: the answer itself, as before
        HttpResponse<String> plain = send("PUT", "/pgs", new JsonObject().put("name", "plain").put("start", false).encode(), null);
        assertEquals(201, plain.statusCode());
        assertEquals("plain", new JsonObject(plain.body()).getString("name"));
        assertFalse(plain.headers().firstValue("location").isPresent());
        assertEquals(404, send("GET", "/jobs/999999", null, null).statusCode());
        assertTrue(send("GET", "/jobs", null, null).body().contains("\"PUT /pgs\""));
    }

    @Test
    void aFollowerWaitingForAJobIsAnsweredWhenItChanges() throws Exception {
        HttpResponse<String> accepted = send("PUT", "/pgs", new JsonObject().put("name", "followed").encode(), "respond-async");
        String location = accepted.headers().firstValue("location").orElseThrow();
        int seen = 0;
        List<Integer> looks = new ArrayList<>();
        JsonObject job;
        do {
            // held until the job has more phases than seen, or ends; never the 50 s: the create takes seconds
            HttpResponse<String> r = send("GET", location + "?wait_ms=50000&seen_phases=" + seen, null, null);
            assertEquals(200, r.statusCode(), r.body());
            job = new JsonObject(r.body());
            int phases = job.getJsonArray("phases").size();
            assertTrue(phases > seen || !job.getString("state").equals("running"),
                    "answered with nothing new: " + job.encodePrettily());
            seen = phases;
            looks.add(phases);
        } while (job.getString("state").equals("running"));
        assertEquals("succeeded", job.getString("state"), job.encodePrettily());
        assertTrue(looks.size() <= seen + 1, "one look per change at most: " + looks);
        // an ended job answers at once whatever was seen; a bad wait is refused
        assertEquals("succeeded", new JsonObject(send("GET", location + "?wait_ms=50000&seen_phases=" + seen, null, null)
                .body()).getString("state"));
        assertEquals(400, send("GET", location + "?wait_ms=-1", null, null).statusCode());
        assertEquals(400, send("GET", location + "?wait_ms=600000", null, null).statusCode());
    }

    /** "/pgs/{name}/log" for a router path "/pgs/:name/log". */
    private static String openApiPath(String routerPath) {
        return routerPath.replaceAll(":([a-z]+)", "{$1}");
    }

    @Test
    void everyRouteIsDocumentedAndEveryDocumentedRouteAnswers() throws Exception {
        JsonObject api = new JsonObject(send("GET", "/openapi.json", null, null).body());
        assertEquals("3.0.3", api.getString("openapi"));
        JsonObject paths = api.getJsonObject("paths");
        Set<String> documented = new TreeSet<>();
        paths.forEach(p -> ((JsonObject) p.getValue()).fieldNames()
                .forEach(method -> documented.add(method.toUpperCase() + " " + p.getKey())));

        Set<String> routed = new TreeSet<>();
        io.vertx.core.Vertx vertx = CheckedVertx.create();
        List<Route> routes = new RestApi(vertx, null, null, null, () -> { }, Set.of(),
                new RequestGuard("token", "127.0.0.1", "http"), null, null, null).router().getRoutes();
        vertx.close();
        for (Route r : routes) {
            if (r.getPath() == null || r.methods() == null) {
                continue; // the handlers for every request (Host, Origin, OPTIONS, home, token, bodies, the 404 answer)
            }
            r.methods().forEach(m -> routed.add(m.name() + " " + openApiPath(r.getPath())));
        }
        assertEquals(routed, documented, "the router's routes and the document's");

        List<String> answered = new ArrayList<>();
        for (String route : documented) {
            if (route.equals("POST /shutdown")) {
                continue; // answers by stopping the daemon: the fixture's close does that
            }
            String method = route.substring(0, route.indexOf(' '));
            String path = route.substring(route.indexOf(' ') + 1).replace("{name}", "no-such-thing@x").replace("{id}", "0").replace("{remote}", "no-such-remote");
            HttpResponse<String> r;
            try {
                r = send(method, path, method.equals("GET") || method.equals("DELETE") ? null : "{}", null);
            } catch (java.net.http.HttpTimeoutException e) {
                throw new AssertionError(route + " did not answer", e);
            }
            assertNotEquals(500, r.statusCode(), route + ": " + r.body());
            assertFalse(r.body().contains("no such endpoint"), route + " answers: " + r.body());
            answered.add(route);
        }
        assertTrue(answered.size() >= 20, answered.toString());
    }
}
