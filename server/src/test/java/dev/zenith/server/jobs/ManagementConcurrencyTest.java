package dev.zenith.server.jobs;

import dev.zenith.pgexec.Processes;
import dev.zenith.server.testing.DaemonFixture;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A long action does not hold every other REST change: while a pg stop waits for a postmaster frozen
 * with SIGSTOP (up to the fast-stop timeout), a pg create of another pg is answered, and the frozen pg
 * itself refuses another action until its stop is done.
 */
@Tag("pg")
class ManagementConcurrencyTest {
    private DaemonFixture d;

    @AfterEach
    void tearDown() throws Exception {
        if (d != null) {
            d.close();
        }
    }

    @Test
    void aPgCreateIsAnsweredWhileTheStopOfAFrozenComputeWaits() throws Exception {
        d = new DaemonFixture();
        d.jvmOptions.add("-Dzenith.computeFastStopSeconds=30"); // without the change the create waits this long
        d.startProcess();
        JsonObject pg = d.createPg("frozen");
        Path pgdata = Path.of(pg.getString("pgdata"));
        long postmaster = Long.parseLong(Files.readAllLines(pgdata.resolve("postmaster.pid")).get(0).trim());
        Processes.signal(postmaster, "STOP");
        CompletableFuture<HttpResponse<String>> stopping;
        try {
            stopping = CompletableFuture.supplyAsync(() -> {
                try {
                    return d.request("POST", "/pgs/frozen/actions", new JsonObject().put("action", "stop").encode());
                } catch (Exception e) {
                    throw new RuntimeException(e);
                }
            });
            // The stop is under way: its job waits for PostgreSQL to stop.
            awaitJob("POST /pgs/frozen/actions", "stopping PostgreSQL of pg frozen");

            HttpResponse<String> created = d.request("PUT", "/pgs",
                    new JsonObject().put("name", "other").put("start", false).encode());
            assertEquals(201, created.statusCode(), created.body());
            assertFalse(stopping.isDone(), "answered while the stop still waits for the frozen postmaster");

            HttpResponse<String> again = d.request("POST", "/pgs/frozen/actions",
                    new JsonObject().put("action", "start").encode());
            assertEquals(409, again.statusCode(), again.body());
            assertEquals("pg 'frozen' is stopping; try again when that is done", new JsonObject(again.body()).getString("error"));
            assertFalse(stopping.isDone());
        } finally {
            Processes.signal(postmaster, "CONT");
        }
        HttpResponse<String> stopped = stopping.get(2, TimeUnit.MINUTES);
        assertEquals(200, stopped.statusCode(), stopped.body());
        assertEquals("stopped", new JsonObject(stopped.body()).getString("status"));
        assertEquals("running", d.action("frozen", "start").getString("status"), "and usable again once stopped");
    }

    /** Waits until a running job of {@code action} is in {@code phase}. */
    private void awaitJob(String action, String phase) throws Exception {
        for (long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(1); System.nanoTime() < deadline; Thread.sleep(50)) {
            JsonArray jobs = (JsonArray) d.ok(200, "GET", "/jobs", null);
            for (Object o : jobs) {
                JsonObject j = (JsonObject) o;
                if (j.getString("action").equals(action) && j.getString("state").equals("running")
                        && j.getString("phase").equals(phase)) {
                    return;
                }
            }
        }
        throw new AssertionError("no running job '" + action + "' in phase '" + phase + "'");
    }
}
