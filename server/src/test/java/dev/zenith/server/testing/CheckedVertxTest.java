package dev.zenith.server.testing;

import io.vertx.core.Vertx;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The check itself: a blocked event loop fails the test with the stack it was stuck in; a long worker task does not. */
class CheckedVertxTest {
    Vertx vertx;

    @BeforeEach
    void create() {
        vertx = CheckedVertx.create();
    }

    @AfterEach
    void close() throws Exception {
        vertx.close().toCompletionStage().toCompletableFuture().get(1, TimeUnit.MINUTES);
    }

    private static void stayBusy() {
        try {
            Thread.sleep(2 * CheckedVertx.MAX_EVENT_LOOP_MILLIS + 500);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Test
    void anEventLoopBlockedPastTheLimitFailsTheTestNamingWhere() throws Exception {
        CompletableFuture<Void> done = new CompletableFuture<>();
        vertx.runOnContext(v -> {
            stayBusy();
            done.complete(null);
        });
        done.get(1, TimeUnit.MINUTES);
        AssertionError e = assertThrows(AssertionError.class, () -> new NoBlockedEventLoops().afterEach(null));
        assertTrue(e.getMessage().contains("vert.x-eventloop-thread"), e.getMessage());
        assertTrue(e.getMessage().contains(CheckedVertxTest.class.getName() + ".stayBusy"), e.getMessage());
        assertEquals(List.of(), CheckedVertx.drain(), "the check took what it reported");
    }

    @Test
    void aWorkerMayTakeLonger() throws Exception {
        vertx.executeBlocking(() -> {
            stayBusy();
            return null;
        }).await();
        assertEquals(List.of(), CheckedVertx.drain());
    }
}
