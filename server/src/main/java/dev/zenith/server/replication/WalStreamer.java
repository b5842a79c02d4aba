package dev.zenith.server.replication;

import dev.zenith.protocol.replication.PgTime;
import dev.zenith.protocol.server.WalSenderSession;
import dev.zenith.server.ingest.WalReceiver;
import dev.zenith.storage.Store;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.wal.Lsn;
import io.vertx.core.Future;
import io.vertx.core.eventbus.MessageConsumer;

import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * START_REPLICATION's CopyBoth phase: sends stored WAL from the start position, then follows the
 * durable end the WAL receiver publishes on the event bus (no polling). At most two store reads
 * (≤ 1 MiB each) are in flight, and none starts while the socket's write queue is full, so a slow
 * client holds us back instead of making us buffer WAL.
 */
final class WalStreamer {
    private static final Logger LOG = Logger.getLogger(WalStreamer.class.getName());
    private static final int READS_IN_FLIGHT = 2;
    /** Bytes per store read. */
    private static final int READ_BYTES = 1 << 20;
    /**
     * Bytes per XLogData message: one store read. PostgreSQL sends at most 128 KiB (MAX_SEND_SIZE); a
     * client handles each message with one poll, receive, copy and file write, so bigger messages leave
     * pg_receivewal ~850 fewer of each per 130 MB (bench/RESULTS.md, session 5).
     */
    private static final int MESSAGE_BYTES = READ_BYTES;
    /** The first read is small, so the client has bytes while the bigger reads run. */
    private static final int FIRST_READ_BYTES = 128 * 1024;
    /** An idle stream still gets a keepalive this often (PostgreSQL: half of wal_sender_timeout). */
    private static final long KEEPALIVE_MS = 10_000;

    private final ReplicationConnection connection;
    private final ReplicationConnection.Services services;
    private final Store store;
    private TimelineId timeline;
    private Lsn sent;
    private Lsn durableEnd;
    private PgTimelineHistory.Switch historic;
    /** Store reads under way, oldest first; two overlap the store's per-chunk work with sending. */
    private final ArrayDeque<Read> inFlight = new ArrayDeque<>();
    private Lsn requested;
    private int readBytes = FIRST_READ_BYTES;
    private boolean stopped;
    private boolean caughtUpAnnounced;
    private MessageConsumer<String> follower;
    private long keepaliveTimer = -1;

    /** {@code historic}: streaming an earlier PostgreSQL timeline, which ends at its switch point; else null. */
    WalStreamer(ReplicationConnection connection, ReplicationConnection.Services services, Store store,
                TimelineId timeline, Lsn start, Lsn durableEnd, PgTimelineHistory.Switch historic) {
        this.connection = connection;
        this.services = services;
        this.store = store;
        this.timeline = timeline;
        this.sent = start;
        this.requested = start;
        this.historic = historic;
        // The WAL of a historic timeline is complete up to its switch point.
        this.durableEnd = historic == null ? durableEnd : Lsn.min(durableEnd, historic.at());
    }

    void start() {
        follower = services.vertx().eventBus().consumer(WalReceiver.walDurableAddress(timeline),
                m -> advance(Lsn.parse(m.body())));
        // WAL made durable between the caller's look at the store and the subscription would otherwise wait
        // for the next commit.
        services.blocking(() -> store.wal().end(timeline).orElse(durableEnd)).onSuccess(this::advance);
        keepaliveTimer = services.vertx().setPeriodic(KEEPALIVE_MS, t -> {
            if (!stopped && inFlight.isEmpty() && !connection.socket().writeQueueFull()
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

    /**
     * The pg this stream follows moved to another history ({@code pg checkout}, {@code pg promote}) that
     * leaves the streamed PostgreSQL timeline at {@code leaving}: as a walsender does when its server's
     * timeline changes, the stream goes on (reading the new history) up to the switch, then ends the
     * timeline, and the client asks for the next one.
     */
    void moved(TimelineId newTimeline, PgTimelineHistory.Switch leaving) {
        if (stopped || historic != null) {
            return;
        }
        if (follower != null) {
            follower.unregister();
            follower = null;
        }
        inFlight.clear(); // reads of the old history: what they hold is read again from the new one
        requested = sent;
        timeline = newTimeline;
        historic = leaving;
        durableEnd = leaving.at();
        pump();
    }

    private void advance(Lsn end) {
        if (historic == null && end.isAfter(durableEnd)) {
            durableEnd = end;
            pump();
        }
    }

    private void pump() {
        if (stopped || connection.session().state() != WalSenderSession.State.STREAMING) {
            return;
        }
        deliver();
        if (stopped) {
            return;
        }
        if (inFlight.isEmpty() && !sent.isBefore(durableEnd)) {
            if (historic != null) {
                // PostgreSQL's end of a historic timeline: CopyDone, then (after the client's) the next timeline.
                connection.session().endOfTimeline(historic.next(), historic.at());
                connection.flush();
                stop();
                return;
            }
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
        while (inFlight.size() < READS_IN_FLIGHT && requested.isBefore(durableEnd)) {
            Lsn from = requested;
            int want = (int) Math.min(readBytes, durableEnd.minus(from));
            readBytes = READ_BYTES;
            Future<List<ByteBuffer>> read = services.blocking(() -> store.wal().readSlices(timeline, from, want));
            inFlight.add(new Read(from, want, read));
            requested = from.plus(want);
            read.onComplete(ar -> pump());
        }
    }

    /** Sends the reads that completed, in LSN order (a later read may finish first). */
    private void deliver() {
        while (!inFlight.isEmpty() && inFlight.peek().result().isComplete()) {
            Read r = inFlight.poll();
            if (r.result().failed()) {
                LOG.log(Level.WARNING, "reading WAL at " + r.from() + " failed", r.result().cause());
                stop();
                connection.fatal("XX000", "could not read WAL at " + r.from() + ": " + r.result().cause().getMessage());
                return;
            }
            int length = send(r.from(), r.result().result());
            sent = r.from().plus(length);
            caughtUpAnnounced = false;
            if (length < r.want()) {
                // The published end ran ahead of what a reader sees yet: drop the reads after it, retry shortly.
                inFlight.clear();
                requested = sent;
                services.vertx().setTimer(50, t -> pump());
                return;
            }
        }
    }

    /** Sends the slices read from {@code from} as XLogData messages of up to MESSAGE_BYTES; returns the bytes sent. */
    private int send(Lsn from, List<ByteBuffer> slices) {
        long now = PgTime.now();
        List<ByteBuffer> message = new ArrayList<>();
        int inMessage = 0;
        int total = 0;
        for (ByteBuffer slice : slices) {
            while (slice.hasRemaining()) {
                int n = Math.min(slice.remaining(), MESSAGE_BYTES - inMessage);
                message.add(slice.slice(slice.position(), n));
                slice.position(slice.position() + n);
                inMessage += n;
                if (inMessage == MESSAGE_BYTES) {
                    connection.write(WireFrames.xlogData(from.plus(total), durableEnd, now, message));
                    total += inMessage;
                    message = new ArrayList<>();
                    inMessage = 0;
                }
            }
        }
        if (inMessage > 0) {
            connection.write(WireFrames.xlogData(from.plus(total), durableEnd, now, message));
            total += inMessage;
        }
        return total;
    }

    private record Read(Lsn from, int want, Future<List<ByteBuffer>> result) {
    }
}
