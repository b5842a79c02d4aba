package dev.zenith.server.jobs;

import dev.zenith.pgexec.Processes;
import dev.zenith.server.testing.DaemonFixture;
import dev.zenith.wal.Lsn;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

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

    /**
     * Garbage collection works on its storage without the management lock: while a long one runs (freeing
     * the WAL of a pgbench load), a storage attach is answered, and a snapshot (which adds a point to keep)
     * waits for it.
     */
    @Test
    void aStorageAttachIsAnsweredWhileALongGarbageCollectionRuns() throws Exception {
        d = new DaemonFixture();
        d.startProcess();
        JsonObject pg = d.createPg("main");
        d.pgbench(pg.getInteger("port"), "-i", "-s", "10", "-q");
        d.action("main", "stop"); // an image after the load: the WAL before it can go...
        int port = d.action("main", "start").getInteger("port");
        d.psql(port, "CREATE TABLE after_the_image ()"); // ...once a commit after it starts the PITR window
        // and once that commit is in the store (its LMDB part, a moment after the acknowledgement): before it, the
        // window starts at the last stored commit, before the image, and keeps all the WAL.
        Lsn committed = Lsn.parse(d.psql(port, "select pg_current_wal_flush_lsn()").trim());
        String timeline = ((JsonObject) d.ok(200, "GET", "/pgs/main", null)).getString("timeline_id");
        for (long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(1); ; Thread.sleep(100)) {
            JsonArray tls = (JsonArray) d.ok(200, "GET", "/storages/local/timelines", null);
            boolean stored = tls.stream().map(JsonObject.class::cast)
                    .filter(t -> timeline.equals(t.getString("timeline_id")) && t.getString("end_lsn") != null)
                    // the flush LSN is the commit record's MAXALIGNed end; the store keeps the exact end
                    .anyMatch(t -> ((Lsn.parse(t.getString("end_lsn")).value() + 7) & ~7L) >= committed.value());
            if (stored || System.nanoTime() > deadline) {
                assertTrue(stored, "the commit reached the store: " + tls.encode());
                break;
            }
        }
        HttpResponse<String> accepted = d.unauthenticated("POST", "/storages/local/gc", "{\"pitr\": \"0s\"}",
                "Authorization", "Bearer " + d.apiToken(), "Content-Type", "application/json", "Prefer", "respond-async");
        assertEquals(202, accepted.statusCode(), accepted.body());
        String gc = new JsonObject(accepted.body()).getString("id");
        awaitJob("POST /storages/local/gc", "collecting garbage on storage local");

        HttpResponse<String> attached = d.request("PUT", "/storages",
                new JsonObject().put("name", "other").put("path", d.home.resolve("other").toString()).encode());
        assertEquals(201, attached.statusCode(), attached.body());
        HttpResponse<String> snapshot = d.request("PUT", "/snapshots",
                new JsonObject().put("name", "main@after-gc").encode());

        JsonObject collected = awaitDone(gc);
        assertEquals("succeeded", collected.getString("state"), collected.encode());
        assertTrue(collected.getJsonObject("result").getLong("wal_bytes_freed") > 0, collected.encode());
        JsonObject attach = finishedJob("PUT /storages");
        assertTrue(attach.getString("finished_at").compareTo(collected.getString("finished_at")) < 0,
                "the attach was answered while the collection ran: " + attach.encode() + " " + collected.encode());
        assertEquals(201, snapshot.statusCode(), snapshot.body());
        assertTrue(finishedJob("PUT /snapshots").getString("finished_at").compareTo(collected.getString("finished_at")) >= 0,
                "the snapshot waited for the collection");
    }

    /**
     * A pg's start does not hold the management lock while it readies the data directory and waits for
     * PostgreSQL: here the pg's log file is a FIFO nobody reads yet, so pg_ctl's shell waits to open it and
     * PostgreSQL does not come up (as a long rebuild or recovery would keep it). Meanwhile a storage attach and
     * a pg create are answered, the pg itself refuses another action (it is starting) and the crash watcher
     * leaves it alone; once the log is read, it runs.
     */
    @Test
    void aStorageAttachAndAPgCreateAreAnsweredWhileAStartWaits() throws Exception {
        d = new DaemonFixture();
        d.startProcess();
        JsonObject pg = d.createPg("slow");
        d.action("slow", "stop");
        Path log = Path.of(pg.getString("logfile"));
        Path logAgain = log.resolveSibling(".slow-log-reader"); // the same FIFO under a second name
        Files.delete(log);
        Process mkfifo = new ProcessBuilder("mkfifo", "-m", "600", log.toString()).inheritIO().start();
        assertEquals(0, mkfifo.waitFor());
        Files.createLink(logAgain, log);
        CompletableFuture<HttpResponse<String>> starting = CompletableFuture.supplyAsync(() -> {
            try {
                return d.request("POST", "/pgs/slow/actions", new JsonObject().put("action", "start").encode());
            } catch (Exception e) {
                throw new RuntimeException(e);
            }
        });
        try {
            awaitJob("POST /pgs/slow/actions", "starting PostgreSQL (it replays the WAL since its starting point)");
            CompletableFuture<HttpResponse<String>> attaching = CompletableFuture.supplyAsync(() -> {
                try {
                    return d.request("PUT", "/storages",
                            new JsonObject().put("name", "other").put("path", d.home.resolve("other").toString()).encode());
                } catch (Exception e) {
                    throw new RuntimeException(e);
                }
            });
            HttpResponse<String> attached;
            try {
                attached = attaching.get(60, TimeUnit.SECONDS);
            } catch (TimeoutException e) {
                throw new AssertionError("the attach waited for the start of another pg", e);
            }
            assertEquals(201, attached.statusCode(), attached.body());
            HttpResponse<String> created = d.request("PUT", "/pgs",
                    new JsonObject().put("name", "another").put("start", false).encode());
            assertEquals(201, created.statusCode(), created.body());

            HttpResponse<String> again = d.request("POST", "/pgs/slow/actions", new JsonObject().put("action", "start").encode());
            assertEquals(409, again.statusCode(), again.body());
            assertEquals("pg 'slow' is starting; try again when that is done", new JsonObject(again.body()).getString("error"));
            Thread.sleep(5000); // the crash watcher looks every 2 s
            assertFalse(starting.isDone(), "the start still waits for PostgreSQL");
        } finally {
            // Read the log from now on: pg_ctl's shell opens it, PostgreSQL starts and logs into it until it stops.
            Thread reader = new Thread(() -> {
                try (InputStream in = Files.newInputStream(logAgain)) {
                    in.transferTo(OutputStream.nullOutputStream());
                } catch (IOException e) {
                    // the pg is gone
                }
            }, "slow-log-reader");
            reader.setDaemon(true);
            reader.start();
        }
        HttpResponse<String> started = starting.get(3, TimeUnit.MINUTES);
        assertEquals(200, started.statusCode(), started.body());
        assertEquals("running", new JsonObject(started.body()).getString("status"), started.body());
        Thread.sleep(3000);
        JsonObject shown = (JsonObject) d.ok(200, "GET", "/pgs/slow", null);
        assertEquals("running", shown.getString("status"), "the crash watcher left the started pg alone: " + shown.encode());
    }

    private JsonObject awaitDone(String id) throws Exception {
        for (long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(5); System.nanoTime() < deadline; Thread.sleep(100)) {
            JsonObject job = (JsonObject) d.ok(200, "GET", "/jobs/" + id, null);
            if (!job.getString("state").equals("running")) {
                return job;
            }
        }
        throw new AssertionError("job " + id + " still running");
    }

    private JsonObject finishedJob(String action) throws Exception {
        for (Object o : (JsonArray) d.ok(200, "GET", "/jobs", null)) {
            JsonObject j = (JsonObject) o;
            if (j.getString("action").equals(action) && j.getString("finished_at") != null) {
                return j;
            }
        }
        throw new AssertionError("no finished job '" + action + "'");
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
