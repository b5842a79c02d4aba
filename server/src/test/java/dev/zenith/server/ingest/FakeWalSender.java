package dev.zenith.server.ingest;

import dev.zenith.protocol.replication.ReplicationCommand;
import dev.zenith.protocol.server.ReplicationResponses;
import dev.zenith.protocol.server.ServerEvent;
import dev.zenith.protocol.server.ServerHandshake;
import dev.zenith.protocol.server.SessionEvent;
import dev.zenith.protocol.server.WalSenderSession;
import dev.zenith.wal.Lsn;
import dev.zenith.server.config.ZenithConfig;
import dev.zenith.storage.Store;
import dev.zenith.storage.timeline.TimelineId;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.NetServer;
import io.vertx.core.net.NetSocket;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * Just enough of a walsender for the WAL receiver's tests (a real PostgreSQL never streams invalid WAL):
 * trust authentication, IDENTIFY_SYSTEM, CREATE_REPLICATION_SLOT, START_REPLICATION, then the script's
 * XLogData messages for the position asked for; it records each connection's flush reports.
 */
final class FakeWalSender {
    /** One XLogData message. */
    record Chunk(Lsn start, byte[] bytes) {
    }

    /** What a connection sends after START_REPLICATION at {@code startLsn}. */
    interface Script {
        List<Chunk> chunksFrom(Lsn startLsn);
    }

    /** What one connection of the fake walsender saw. */
    record Connection(Lsn startLsn, List<Lsn> flushReports) {
    }

    /** Listens on a free loopback port, a FakeWalSender per connection; the port. */
    static Future<Integer> listen(Vertx vertx, Lsn end, List<Connection> connections, Script script) {
        return vertx.createNetServer().connectHandler(socket -> new FakeWalSender(socket, end, connections, script))
                .listen(0, "127.0.0.1").map(NetServer::actualPort);
    }

    /**
     * Runs a WAL receiver for {@code timeline} against the sender on {@code port} until LMDB holds
     * {@code end} (the receiver's durable-WAL event, which the WAL service's streams follow too), then
     * stops it; what it acknowledged. After a minute without that event it stops it all the same, and
     * the caller sees how far it got (or fails when acknowledged WAL did not reach LMDB).
     */
    static Future<Lsn> receiveUntil(Vertx vertx, Store store, TimelineId timeline, int port, Path home, Lsn end) {
        ZenithConfig config = ZenithConfig.fromJson(new JsonObject().put("home", home.toString()));
        WalReceiver receiver = new WalReceiver(vertx, store, timeline, "127.0.0.1", port, null, "zenith_receiver",
                "zenith_test_slot", config, () -> true);
        Promise<Boolean> stored = Promise.promise();
        MessageConsumer<String> durable = vertx.eventBus().<String>consumer(WalReceiver.walDurableAddress(timeline), m -> {
            if (!Lsn.parse(m.body()).isBefore(end)) {
                stored.tryComplete(true);
            }
        });
        long timer = vertx.setTimer(60_000, t -> stored.tryComplete(false));
        receiver.start();
        return stored.future().compose(inLmdb -> {
            vertx.cancelTimer(timer);
            Lsn flushed = receiver.flushed();
            Future<Lsn> done = durable.unregister().compose(v -> receiver.stop()).map(flushed);
            return inLmdb || !flushed.equals(end) ? done
                    : done.compose(x -> Future.failedFuture(new AssertionError("acknowledged WAL did not reach LMDB")));
        });
    }

    private final NetSocket socket;
    private final Lsn end;
    private final ServerHandshake handshake = new ServerHandshake(new ServerHandshake.Config(
            null, ServerHandshake.defaultParameters("15.0"), 1, 1));
    private WalSenderSession session;
    private final List<Connection> connections;
    private final Script script;
    private final List<Lsn> flushReports = new CopyOnWriteArrayList<>();

    /** {@code end}: the server's WAL end it reports; each START_REPLICATION adds to {@code connections}. */
    FakeWalSender(NetSocket socket, Lsn end, List<Connection> connections, Script script) {
        this.socket = socket;
        this.end = end;
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
            session.reply(ReplicationResponses.identifySystem("7000000000000000001", 1, end, null));
        } else if (command instanceof ReplicationCommand.CreateReplicationSlot c) {
            session.reply(ReplicationResponses.createReplicationSlot(c.slotName(), end, null, null));
        } else if (command instanceof ReplicationCommand.StartReplication s) {
            connections.add(new Connection(s.startLsn(), flushReports));
            session.startStreaming();
            for (Chunk chunk : script.chunksFrom(s.startLsn())) {
                session.sendWal(chunk.start(), end, ByteBuffer.wrap(chunk.bytes()));
            }
        } else {
            throw new AssertionError("unexpected command " + command);
        }
    }
}
