package dev.zenith.server.api;

import dev.zenith.server.jobs.Management;
import dev.zenith.server.testing.CheckedVertx;
import dev.zenith.testkit.PgCluster;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServer;
import io.vertx.ext.web.Router;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The stores' read lock, proved with the interleaving forced: a read that runs beside the management lock
 * (the timelines and relations of {@link PageCatalog}, snapshot listings) holds it, and a detach, which
 * closes a store, waits for it: an LMDB environment closed under a read transaction can take the daemon
 * down. Without the lock the detach is answered while the read still runs.
 */
class WorkDispatchTest {
    private Vertx vertx;
    private HttpServer server;
    private final HttpClient http = HttpClient.newHttpClient();
    private final CountDownLatch reading = new CountDownLatch(1);
    private final CountDownLatch releaseRead = new CountDownLatch(1);
    private volatile boolean readRunning;

    @BeforeEach
    void serve() throws Exception {
        vertx = CheckedVertx.create();
        WorkDispatch dispatch = new WorkDispatch(vertx, new Management(vertx));
        Router r = Router.router(vertx);
        r.get("/read").handler(ctx -> dispatch.reading(ctx, () -> {
            readRunning = true;
            reading.countDown();
            releaseRead.await(); // a store read under way
            readRunning = false;
            return "read";
        }));
        r.get("/long-read").handler(ctx -> dispatch.read(ctx, () -> {
            readRunning = true;
            reading.countDown();
            releaseRead.await();
            readRunning = false;
            return "read";
        }));
        // as a storage detach does: under the management lock, closing the store once no read holds it
        r.delete("/store").handler(ctx -> dispatch.blocking(ctx, 200, () -> dispatch.closingStores(
                () -> readRunning ? "closed under a read" : "closed")));
        r.route().failureHandler(dispatch::failure);
        server = vertx.createHttpServer().requestHandler(r).listen(PgCluster.freePort(), "127.0.0.1")
                .toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
    }

    @AfterEach
    void close() throws Exception {
        releaseRead.countDown();
        vertx.close().toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
    }

    @Test
    void aDetachWaitsForAShortReadBesideTheManagementLock() throws Exception {
        detachWaitsFor("/read");
    }

    @Test
    void aDetachWaitsForALongRead() throws Exception {
        detachWaitsFor("/long-read");
    }

    private void detachWaitsFor(String readPath) throws Exception {
        CompletableFuture<HttpResponse<String>> read = send("GET", readPath);
        assertTrue(reading.await(30, TimeUnit.SECONDS), "the read began");
        CompletableFuture<HttpResponse<String>> detach = send("DELETE", "/store");
        Thread.sleep(1000);
        assertFalse(detach.isDone(), "the detach waits while the read runs");
        releaseRead.countDown();
        assertEquals("read", read.get(30, TimeUnit.SECONDS).body().trim());
        HttpResponse<String> detached = detach.get(30, TimeUnit.SECONDS);
        assertEquals(200, detached.statusCode(), detached.body());
        assertEquals("closed", detached.body().trim());
    }

    private CompletableFuture<HttpResponse<String>> send(String method, String path) {
        HttpRequest req = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.actualPort() + path))
                .method(method, HttpRequest.BodyPublishers.noBody()).timeout(Duration.ofMinutes(1)).build();
        return http.sendAsync(req, HttpResponse.BodyHandlers.ofString());
    }
}
