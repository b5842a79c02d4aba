package dev.zenith.server.ingest;

import dev.zenith.server.testing.CheckedVertx;
import dev.zenith.storage.InitdbWal;
import dev.zenith.storage.Store;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.wal.Lsn;
import io.vertx.core.Vertx;
import io.vertx.junit5.Timeout;
import io.vertx.junit5.VertxExtension;
import io.vertx.junit5.VertxTestContext;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The WAL receiver refuses WAL that does not decode: it acknowledges nothing of the bad chunk, stores
 * none of it, reconnects, and resumes from what its store holds. A real PostgreSQL never streams invalid
 * WAL, so the sender here is our own walsender protocol state machine serving initdb's real WAL with one
 * byte flipped in the second message of the first connection; the second connection streams it intact.
 */
@Tag("pg")
@ExtendWith(VertxExtension.class)
class WalReceiverInvalidWalTest {
    private static final Lsn SEG = InitdbWal.SEG;
    private static InitdbWal initdb;

    @TempDir
    Path tmp;
    Vertx vertx;
    Store store;

    @BeforeAll
    static void initdb() throws IOException {
        initdb = InitdbWal.create();
    }

    @AfterAll
    static void cleanUp() {
        initdb.close();
    }

    @BeforeEach
    void open() {
        vertx = CheckedVertx.create();
        store = Store.open(tmp.resolve("store"));
    }

    @AfterEach
    void close() throws Exception {
        vertx.close().toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS); // (stops what a failed test left running)
        store.close();
    }

    @Test
    @Timeout(value = 2, timeUnit = TimeUnit.MINUTES)
    void aChunkThatDoesNotDecodeIsNeitherAcknowledgedNorStoredAndStreamingResumes(VertxTestContext ctx) {
        Lsn split = initdb.recordEnd(1.0 / 3, 0);  // the store's end before streaming
        Lsn mid = initdb.recordEnd(0.5, 0);        // first message: split..mid, valid
        Lsn badEnd = initdb.recordEnd(0.5, 20);    // second message: mid..badEnd, one byte flipped
        Lsn end = initdb.end();
        byte[] corrupt = initdb.slice(mid, badEnd);
        int flipAt = (int) (initdb.recordEnd(0.5, 1).minus(mid) / 2); // inside the first record
        corrupt[flipAt] ^= 0x5a;

        List<FakeWalSender.Connection> connections = new CopyOnWriteArrayList<>();
        TimelineId tl = initdb.storeUpTo(store, split);
        FakeWalSender.listen(vertx, initdb.end(), connections, startLsn -> connections.size() == 1
                ? List.of(new FakeWalSender.Chunk(startLsn, initdb.slice(startLsn, mid)), new FakeWalSender.Chunk(mid, corrupt))
                : List.of(new FakeWalSender.Chunk(startLsn, initdb.slice(startLsn, end))))
        .compose(port -> FakeWalSender.receiveUntil(vertx, store, tl, port, tmp.resolve("home"), end))
        .compose(acknowledged -> {
            ctx.verify(() -> {
                assertEquals(end, acknowledged, "the intact WAL of the second connection is acknowledged");
                assertEquals(2, connections.size(), "one reconnect after the invalid chunk: " + connections);
                FakeWalSender.Connection first = connections.get(0);
                FakeWalSender.Connection second = connections.get(1);
                assertEquals(split, first.startLsn());
                for (Lsn reported : first.flushReports()) {
                    assertTrue(!reported.isAfter(mid), "flushed " + reported + " reported beyond the valid WAL (" + mid + ")");
                }
                Lsn lastReported = first.flushReports().stream().reduce(split, Lsn::max);
                assertTrue(second.startLsn().equals(split) || second.startLsn().equals(mid),
                        "resumes at a position the store holds: " + second.startLsn());
                assertTrue(!second.startLsn().isBefore(lastReported), "nothing acknowledged is asked for again as lost");
            });
            return vertx.executeBlocking(() -> { // LMDB reads: off the event loop
                assertEquals(end, store.wal().end(tl).orElseThrow());
                assertArrayEquals(initdb.bytes(), store.wal().read(tl, SEG, (int) end.minus(SEG)),
                        "the store holds the intact WAL, not the flipped byte");
                return null;
            });
        }).onComplete(ctx.succeedingThenComplete());
    }
}
