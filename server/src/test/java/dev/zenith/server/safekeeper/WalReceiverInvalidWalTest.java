package dev.zenith.server.safekeeper;

import dev.zenith.protocol.replication.ReplicationCommand;
import dev.zenith.protocol.server.ReplicationResponses;
import dev.zenith.protocol.server.ServerEvent;
import dev.zenith.protocol.server.ServerHandshake;
import dev.zenith.protocol.server.SessionEvent;
import dev.zenith.protocol.server.WalSenderSession;
import dev.zenith.server.config.ZenithConfig;
import dev.zenith.storage.InitdbWal;
import dev.zenith.storage.Store;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.wal.Lsn;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.NetServer;
import io.vertx.core.net.NetSocket;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
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
class WalReceiverInvalidWalTest {
    private static final Lsn SEG = InitdbWal.SEG;
    private static InitdbWal initdb;

    @TempDir
    Path tmp;

    @BeforeAll
    static void initdb() throws IOException {
        initdb = InitdbWal.create();
    }

    @AfterAll
    static void cleanUp() {
        initdb.close();
    }

    /** What one connection of the fake walsender saw. */
    record Connection(Lsn startLsn, List<Lsn> flushReports) {
    }

    @Test
    void aChunkThatDoesNotDecodeIsNeitherAcknowledgedNorStoredAndStreamingResumes() throws Exception {
        Lsn split = initdb.recordEnd(1.0 / 3, 0);  // the store's end before streaming
        Lsn mid = initdb.recordEnd(0.5, 0);        // first message: split..mid, valid
        Lsn badEnd = initdb.recordEnd(0.5, 20);    // second message: mid..badEnd, one byte flipped
        Lsn end = initdb.end();
        byte[] corrupt = initdb.slice(mid, badEnd);
        int flipAt = (int) (initdb.recordEnd(0.5, 1).minus(mid) / 2); // inside the first record
        corrupt[flipAt] ^= 0x5a;

        Vertx vertx = Vertx.vertx();
        List<Connection> connections = new CopyOnWriteArrayList<>();
        NetServer server = vertx.createNetServer().connectHandler(socket -> new FakeWalSender(socket, connections,
                startLsn -> {
                    if (connections.size() == 1) { // the first connection: valid, then the corrupt chunk
                        return List.of(new Chunk(startLsn, initdb.slice(startLsn, mid)), new Chunk(mid, corrupt));
                    }
                    return List.of(new Chunk(startLsn, initdb.slice(startLsn, end)));
                }));
        int port = server.listen(0, "127.0.0.1").toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS)
                .actualPort();
        TimelineId tl;
        try (Store store = Store.open(tmp.resolve("store"))) {
            tl = initdb.storeUpTo(store, split);
            ZenithConfig config = ZenithConfig.fromJson(new JsonObject().put("home", tmp.resolve("home").toString()));
            WalReceiver receiver = new WalReceiver(vertx, store, tl, "127.0.0.1", port, null, "zenith_receiver",
                    "zenith_test_slot", config, () -> true);
            receiver.start();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (!receiver.flushed().equals(end) && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
            assertEquals(end, receiver.flushed(), "the intact WAL of the second connection is acknowledged");
            assertTrue(receiver.awaitIndexed(30_000), "and reaches LMDB");
            receiver.stop().toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);

            assertEquals(2, connections.size(), "one reconnect after the invalid chunk: " + connections);
            Connection first = connections.get(0);
            Connection second = connections.get(1);
            assertEquals(split, first.startLsn());
            for (Lsn reported : first.flushReports()) {
                assertTrue(!reported.isAfter(mid), "flushed " + reported + " reported beyond the valid WAL (" + mid + ")");
            }
            Lsn lastReported = first.flushReports().stream().reduce(split, Lsn::max);
            assertTrue(second.startLsn().equals(split) || second.startLsn().equals(mid),
                    "resumes at a position the store holds: " + second.startLsn());
            assertTrue(!second.startLsn().isBefore(lastReported), "nothing acknowledged is asked for again as lost");
            assertEquals(end, store.walEnd(tl).orElseThrow());
            assertArrayEquals(initdb.bytes(), store.readWal(tl, SEG, (int) end.minus(SEG)), "the store holds the intact WAL, not the flipped byte");
        } finally {
            server.close();
            vertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
        }
    }

    record Chunk(Lsn start, byte[] bytes) {
    }

    interface Script {
        List<Chunk> chunksFrom(Lsn startLsn);
    }

    /**
     * Just enough of a walsender: trust authentication, IDENTIFY_SYSTEM, CREATE_REPLICATION_SLOT,
     * START_REPLICATION, then the script's XLogData messages; it records the client's flush reports.
     */
    static final class FakeWalSender {
        private final NetSocket socket;
        private final ServerHandshake handshake = new ServerHandshake(new ServerHandshake.Config(
                null, ServerHandshake.defaultParameters("15.0"), 1, 1));
        private WalSenderSession session;
        private final List<Connection> connections;
        private final Script script;
        private final List<Lsn> flushReports = new CopyOnWriteArrayList<>();

        FakeWalSender(NetSocket socket, List<Connection> connections, Script script) {
            this.socket = socket;
            this.connections = connections;
            this.script = script;
            socket.handler(this::received);
        }

        private void received(Buffer data) {
            if (session == null) {
                handshake.feed(data.getBytes());
                for (ServerEvent e = handshake.poll(); e != null; e = handshake.poll()) {
                    if (e instanceof ServerEvent.Ready) {
                        session = new WalSenderSession(handshake.decoder());
                    } else if (e instanceof ServerEvent.Failed) {
                        socket.close();
                    }
                }
                socket.write(Buffer.buffer(handshake.drainOutbound()));
                if (session == null) {
                    return;
                }
            } else {
                session.feed(data.getBytes());
            }
            for (SessionEvent e = session.poll(); e != null; e = session.poll()) {
                if (e instanceof SessionEvent.CommandReceived c) {
                    answer(c.command());
                } else if (e instanceof SessionEvent.StandbyStatus s) {
                    flushReports.add(s.update().flush());
                }
            }
            socket.write(Buffer.buffer(session.drainOutbound()));
        }

        private void answer(ReplicationCommand command) {
            if (command instanceof ReplicationCommand.IdentifySystem) {
                session.reply(ReplicationResponses.identifySystem("7000000000000000001", 1, initdb.end(), null));
            } else if (command instanceof ReplicationCommand.CreateReplicationSlot c) {
                session.reply(ReplicationResponses.createReplicationSlot(c.slotName(), SEG, null, null));
            } else if (command instanceof ReplicationCommand.StartReplication s) {
                connections.add(new Connection(s.startLsn(), flushReports));
                session.startStreaming();
                for (Chunk chunk : script.chunksFrom(s.startLsn())) {
                    session.sendWal(chunk.start(), initdb.end(), ByteBuffer.wrap(chunk.bytes()));
                }
            } else {
                throw new AssertionError("unexpected command " + command);
            }
        }
    }
}
