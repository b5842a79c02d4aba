package dev.zenith.server.walservice;

import dev.zenith.protocol.replication.PgTime;
import dev.zenith.protocol.server.WalSenderSession;
import dev.zenith.server.safekeeper.WalReceiver;
import dev.zenith.storage.Store;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.wal.Lsn;
import io.vertx.core.eventbus.MessageConsumer;

import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * START_REPLICATION's CopyBoth phase: sends stored WAL from the start position, then follows the
 * durable end the WAL receiver publishes on the event bus (no polling). One store read (≤ 1 MiB) is
 * in flight at a time, and none starts while the socket's write queue is full, so a slow client
 * holds us back instead of making us buffer WAL.
 */
final class WalStreamer {
    private static final Logger LOG = Logger.getLogger(WalStreamer.class.getName());
    /** Bytes per store read. */
    private static final int READ_BYTES = 1 << 20;
    /** Bytes per XLogData message, PostgreSQL's MAX_SEND_SIZE. */
    private static final int MESSAGE_BYTES = 128 * 1024;
    /** An idle stream still gets a keepalive this often (PostgreSQL: half of wal_sender_timeout). */
    private static final long KEEPALIVE_MS = 10_000;

    private final ReplicationConnection connection;
    private final ReplicationConnection.Services services;
    private final Store store;
    private final TimelineId timeline;
    private Lsn sent;
    private Lsn durableEnd;
    private boolean reading;
    private boolean stopped;
    private boolean caughtUpAnnounced;
    private MessageConsumer<String> follower;
    private long keepaliveTimer = -1;

    WalStreamer(ReplicationConnection connection, ReplicationConnection.Services services, Store store,
                TimelineId timeline, Lsn start, Lsn durableEnd) {
        this.connection = connection;
        this.services = services;
        this.store = store;
        this.timeline = timeline;
        this.sent = start;
        this.durableEnd = durableEnd;
    }

    void start() {
        follower = services.vertx().eventBus().consumer(WalReceiver.walDurableAddress(timeline),
                m -> advance(Lsn.parse(m.body())));
        // WAL made durable between the caller's look at the store and the subscription would otherwise wait
        // for the next commit.
        services.blocking(() -> store.walEnd(timeline).orElse(durableEnd)).onSuccess(this::advance);
        keepaliveTimer = services.vertx().setPeriodic(KEEPALIVE_MS, t -> {
            if (!stopped && !reading && !connection.socket().writeQueueFull()
                    && connection.session().state() == WalSenderSession.State.STREAMING) {
                connection.session().keepalive(durableEnd, false);
                connection.flush();
            }
        });
        pump();
    }

    void stop() {
        stopped = true;
        if (follower != null) {
            follower.unregister();
            follower = null;
        }
        if (keepaliveTimer >= 0) {
            services.vertx().cancelTimer(keepaliveTimer);
            keepaliveTimer = -1;
        }
    }

    private void advance(Lsn end) {
        if (end.isAfter(durableEnd)) {
            durableEnd = end;
            pump();
        }
    }

    private void pump() {
        if (stopped || reading || connection.session().state() != WalSenderSession.State.STREAMING) {
            return;
        }
        if (!sent.isBefore(durableEnd)) {
            if (!caughtUpAnnounced) {
                // Tells a client waiting for an end position (pg_receivewal -E) where we are.
                connection.session().keepalive(durableEnd, false);
                connection.flush();
                caughtUpAnnounced = true;
            }
            return;
        }
        if (connection.socket().writeQueueFull()) {
            connection.socket().drainHandler(v -> pump());
            return;
        }
        reading = true;
        Lsn from = sent;
        int want = (int) Math.min(READ_BYTES, durableEnd.minus(from));
        services.blocking(() -> store.readWal(timeline, from, want)).onComplete(ar -> {
            reading = false;
            if (stopped) {
                return;
            }
            if (ar.failed()) {
                LOG.log(Level.WARNING, "reading WAL at " + from + " failed", ar.cause());
                connection.fatal("XX000", "could not read WAL at " + from + ": " + ar.cause().getMessage());
                return;
            }
            byte[] data = ar.result();
            if (data.length == 0) {
                // The published end ran ahead of what a reader sees yet; try again shortly.
                services.vertx().setTimer(50, t -> pump());
                return;
            }
            long now = PgTime.now();
            for (int off = 0; off < data.length; off += MESSAGE_BYTES) {
                int len = Math.min(MESSAGE_BYTES, data.length - off);
                connection.write(WireFrames.xlogData(from.plus(off), durableEnd, now, data, off, len));
            }
            sent = from.plus(data.length);
            caughtUpAnnounced = false;
            pump();
        });
    }
}
