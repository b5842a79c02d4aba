package dev.zenith.server.ingest;

import dev.zenith.server.config.ZenithConfig;
import dev.zenith.server.testing.CheckedVertx;
import dev.zenith.storage.Store;
import dev.zenith.storage.timeline.TimelineId;
import io.vertx.core.Context;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A receiver's thread is explicit: an event loop of its own, even when the (worker) management thread makes it. */
class WalReceiverContextTest {
    @TempDir
    Path tmp;

    @Test
    void aReceiverMadeOnAWorkerThreadLivesOnAnEventLoopAndReportsItsStop() throws Exception {
        Vertx vertx = CheckedVertx.create();
        try (Store store = Store.open(tmp.resolve("store"))) {
            ZenithConfig config = ZenithConfig.fromJson(new JsonObject().put("home", tmp.resolve("home").toString()));
            AtomicReference<Context> makers = new AtomicReference<>();
            WalReceiver receiver = vertx.executeBlocking(() -> {
                makers.set(Vertx.currentContext()); // the context of whoever asked for the blocking work
                return new WalReceiver(vertx, store, TimelineId.random(), "127.0.0.1", 1, null, "zenith_receiver",
                        "zenith_test_slot", config, () -> false);
            }, false).toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
            assertTrue(receiver.context().isEventLoopContext(), "its context is an event loop's");
            assertNotSame(makers.get(), receiver.context(), "its own, not borrowed from the thread that made it");
            assertEquals(WalReceiver.State.CONNECTING, receiver.state());
            receiver.stop().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
            assertEquals(WalReceiver.State.STOPPED, receiver.state());
            assertEquals("stopped", receiver.figures().state());
        } finally {
            vertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
        }
    }
}
