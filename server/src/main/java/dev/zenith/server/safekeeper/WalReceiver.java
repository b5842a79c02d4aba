package dev.zenith.server.safekeeper;

import dev.zenith.protocol.replication.PhysicalReplicationClient;
import dev.zenith.protocol.replication.ReplicationEvent;
import dev.zenith.server.config.ZenithConfig;
import dev.zenith.storage.Store;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.storage.wal.WalAppend;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.decoder.DecodeResult;
import dev.zenith.wal.decoder.EndOfWal;
import dev.zenith.wal.decoder.WalStreamDecoder;
import dev.zenith.wal.record.DecodedRecord;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.WorkerExecutor;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.net.NetClient;
import io.vertx.core.net.NetClientOptions;
import io.vertx.core.net.NetSocket;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.function.BooleanSupplier;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The safekeeper role for one primary compute: a physical replication client that streams the compute's
 * WAL, checks every record (CRC, links), commits the bytes to the store with fsync, and only then reports
 * the flush position, so the compute's synchronous commit returns only once its WAL is durable with us.
 *
 * <p>Group commit: while one store commit runs on a worker thread, everything that arrives accumulates
 * and goes into the next commit, so throughput does not collapse to one fsync per transaction.
 * All state lives on one event-loop context; only {@link Store#appendWal} runs on a worker.
 */
public final class WalReceiver {
    private static final Logger LOG = Logger.getLogger(WalReceiver.class.getName());
    private static final int PG_TIMELINE_UNKNOWN = 0;

    private final Vertx vertx;
    private final Context context;
    private final Store store;
    private final TimelineId timeline;
    private final String host;
    private final int port;
    private final String applicationName;
    private final String slotName;
    private final long statusIntervalMs;
    private final int maxBatchBytes;
    private final BooleanSupplier computeAlive;
    private final WorkerExecutor committer;
    private final NetClient netClient;
    private final String name;

    private volatile String state = "connecting";
    // what a user benchmarking us wants to see: how often we commit, how long a commit takes, how big
    private final java.util.concurrent.atomic.LongAdder commits = new java.util.concurrent.atomic.LongAdder();
    private final java.util.concurrent.atomic.LongAdder commitNanos = new java.util.concurrent.atomic.LongAdder();
    private final java.util.concurrent.atomic.LongAdder committedBytes = new java.util.concurrent.atomic.LongAdder();
    private volatile Lsn flushed = Lsn.INVALID;
    private boolean stopping;
    private final Promise<Void> stopped = Promise.promise();

    // per connection
    private NetSocket socket;
    private PhysicalReplicationClient client;
    private WalStreamDecoder decoder;
    private Lsn received;              // end of the bytes received so far
    private Lsn decoderAt;             // the decoder has seen every byte below this; it may start past `received`

    private Lsn pendingStart;          // start of bytes received but not yet handed to a commit
    private final ByteArrayOutputStream pending = new ByteArrayOutputStream();
    private final WalIndex index = new WalIndex();
    private boolean committing;
    private boolean paused;
    private long statusTimer = -1;
    private int failures;

    public WalReceiver(Vertx vertx, Store store, TimelineId timeline, String host, int port, String applicationName,
                       String slotName, ZenithConfig config, BooleanSupplier computeAlive) {
        this.vertx = vertx;
        this.context = vertx.getOrCreateContext();
        this.store = store;
        this.timeline = timeline;
        this.host = host;
        this.port = port;
        this.applicationName = applicationName;
        this.slotName = slotName;
        this.statusIntervalMs = config.statusIntervalMs();
        this.maxBatchBytes = config.maxBatchBytes();
        this.computeAlive = computeAlive;
        this.committer = vertx.createSharedWorkerExecutor("zenith-wal-commit", 4);
        this.netClient = vertx.createNetClient(new NetClientOptions().setTcpNoDelay(true).setConnectTimeout(5000));
        this.name = "WAL receiver for " + host + ":" + port;
    }

    public String state() {
        return state;
    }

    /** Commit statistics since the receiver started. */
    public io.vertx.core.json.JsonObject stats() {
        long n = commits.sum();
        return new io.vertx.core.json.JsonObject().put("state", state).put("flushed_lsn", flushed.toString())
                .put("commits", n).put("wal_bytes", committedBytes.sum())
                .put("avg_commit_ms", n == 0 ? 0.0 : Math.round(commitNanos.sum() / 1e4 / n) / 100.0)
                .put("avg_batch_bytes", n == 0 ? 0 : committedBytes.sum() / n);
    }

    /** The end of the WAL durably in the store, as last reported to the compute. */
    public Lsn flushed() {
        return flushed;
    }

    public void start() {
        context.runOnContext(v -> connect());
    }

    /**
     * Stops after everything received is committed. Called once the compute stopped (its walsender
     * already drained to us and closed) or when the pg is destroyed.
     */
    public Future<Void> stop() {
        context.runOnContext(v -> {
            stopping = true;
            if (socket != null) {
                socket.close();
            } else {
                finishIfIdle();
            }
        });
        return stopped.future();
    }

    // ---- connection life cycle ----

    private void connect() {
        if (stopping) {
            finishIfIdle();
            return;
        }
        state = "connecting";
        vertx.executeBlocking(() -> new Lsn[] {store.walEnd(timeline).orElseThrow(), store.lastRecordEnd(timeline).orElseThrow()}, false)
                .compose(pos -> {
                    Lsn walEnd = pos[0];
                    Lsn recordEnd = pos[1];
                    Lsn decodeFrom = nextRecordStart(recordEnd);
                    // Re-read the torn tail we already hold so the decoder sees the rest of that record whole.
                    return vertx.executeBlocking(() -> decodeFrom.isBefore(walEnd)
                            ? readStored(decodeFrom, walEnd) : new byte[0], false).map(tail -> {
                        decoder = WalStreamDecoder.startingAt(decodeFrom);
                        if (tail.length > 0) {
                            decoder.feed(tail, 0, tail.length);
                        }
                        decoderAt = Lsn.max(decodeFrom, walEnd);
                        received = walEnd;
                        pendingStart = walEnd;
                        flushed = walEnd;
                        return walEnd;
                    });
                })
                .compose(walEnd -> netClient.connect(port, host).map(s -> {
                    onConnected(s, walEnd);
                    return null;
                }))
                .onFailure(this::connectionFailed);
    }

    private byte[] readStored(Lsn from, Lsn to) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        Lsn at = from;
        while (at.isBefore(to)) {
            byte[] chunk = store.readWal(timeline, at, (int) Math.min(to.minus(at), 1 << 20));
            if (chunk.length == 0) {
                break;
            }
            out.write(chunk, 0, chunk.length);
            at = at.plus(chunk.length);
        }
        return out.toByteArray();
    }

    private void onConnected(NetSocket s, Lsn startLsn) {
        socket = s;
        client = new PhysicalReplicationClient(new PhysicalReplicationClient.Config(
                "postgres", null, applicationName, slotName, startLsn, PG_TIMELINE_UNKNOWN));
        s.handler(this::onBytes);
        s.closeHandler(v -> onClosed());
        s.exceptionHandler(e -> LOG.log(Level.FINE, name + ": socket error", e));
        s.write(Buffer.buffer(client.startupPacket()));
        state = "authenticating";
        statusTimer = vertx.setPeriodic(statusIntervalMs, id -> sendStatus(false));
    }

    private void connectionFailed(Throwable t) {
        socket = null;
        if (stopping) {
            finishIfIdle();
            return;
        }
        failures++;
        if (failures == 1 || failures % 50 == 0) {
            LOG.warning(name + ": cannot connect (" + t.getMessage() + "); retrying");
        }
        scheduleReconnect();
    }

    private void onClosed() {
        if (statusTimer >= 0) {
            vertx.cancelTimer(statusTimer);
            statusTimer = -1;
        }
        socket = null;
        client = null;
        if (stopping) {
            finishIfIdle();
            return;
        }
        state = "disconnected";
        scheduleReconnect();
    }

    /** Reconnects once the in-flight commit is done, re-deriving positions from the store. */
    private void scheduleReconnect() {
        if (committing) {
            vertx.setTimer(50, id -> scheduleReconnect());
            return;
        }
        pending.reset();
        index.reset(); // records of bytes never stored (an invalid chunk): they are streamed again
        vertx.executeBlocking(computeAlive::getAsBoolean, false).onComplete(ar -> {
            if (stopping) {
                finishIfIdle();
            } else if (ar.succeeded() && ar.result()) {
                vertx.setTimer(Math.min(200L * Math.max(failures, 1), 2000), id -> connect());
            } else {
                state = "compute stopped";
                LOG.info(name + ": the compute is gone; receiver idle");
            }
        });
    }

    private void finishIfIdle() {
        if (committing) {
            return; // commitDone comes back here
        }
        if (pending.size() > 0) {
            commit();
            return;
        }
        state = "stopped";
        netClient.close();
        committer.close();
        stopped.tryComplete();
    }

    // ---- streaming ----

    private void onBytes(Buffer buf) {
        PhysicalReplicationClient c = client;
        if (c == null) {
            return;
        }
        c.feed(buf.getBytes());
        flushOutbound();
        ReplicationEvent e;
        while (client != null && (e = client.poll()) != null) {
            handle(e);
        }
    }

    private void handle(ReplicationEvent e) {
        if (e instanceof ReplicationEvent.StreamingStarted s) {
            state = "streaming";
            failures = 0;
            LOG.info(name + ": streaming from " + s.startLsn() + " on PostgreSQL timeline " + s.timeline());
        } else if (e instanceof ReplicationEvent.WalData w) {
            onWal(w);
        } else if (e instanceof ReplicationEvent.Keepalive k) {
            if (k.replyRequested()) {
                sendStatus(false);
            }
        } else if (e instanceof ReplicationEvent.EndOfStreaming) {
            LOG.info(name + ": the server ended streaming");
            closeSocket();
        } else if (e instanceof ReplicationEvent.ServerError err) {
            LOG.warning(name + ": server error: " + err.fields());
            closeSocket();
        } else if (e instanceof ReplicationEvent.ProtocolError err) {
            LOG.warning(name + ": protocol error: " + err.message());
            closeSocket();
        }
        // Connected, SystemIdentified, SlotReady, Notice: nothing to do
    }

    private void onWal(ReplicationEvent.WalData w) {
        ByteBuffer data = w.data();
        Lsn start = w.startLsn();
        if (start.isAfter(received)) {
            LOG.severe(name + ": WAL gap: expected " + received + ", server sent " + start);
            closeSocket();
            return;
        }
        if (start.isBefore(received)) { // overlap after a reconnect: skip what we hold
            long skip = received.minus(start);
            if (skip >= data.remaining()) {
                return;
            }
            data.position(data.position() + (int) skip);
        }
        byte[] bytes = new byte[data.remaining()];
        data.get(bytes);
        // The decoder may start after the stored end (alignment padding after the last record).
        long unseen = received.plus(bytes.length).minus(decoderAt);
        if (unseen > 0) {
            decoder.feed(bytes, (int) (bytes.length - unseen), (int) unseen);
            decoderAt = decoderAt.plus(unseen);
        }
        while (true) {
            DecodeResult r = decoder.poll();
            if (r instanceof DecodedRecord rec) {
                index.add(rec);
            } else if (r instanceof EndOfWal end) {
                // Streamed WAL is flushed WAL: it never ends in invalid bytes. Refuse to store garbage.
                LOG.severe(name + ": invalid WAL from the compute: " + end + "; not acknowledging it");
                closeSocket();
                return;
            } else {
                break;
            }
        }
        pending.write(bytes, 0, bytes.length);
        received = received.plus(bytes.length);
        if (pending.size() >= 2 * maxBatchBytes && socket != null && !paused) {
            socket.pause();
            paused = true;
        }
        if (!committing) {
            commit();
        }
    }

    private void commit() {
        if (pending.size() == 0) {
            return;
        }
        committing = true;
        byte[] bytes = pending.toByteArray();
        pending.reset();
        WalAppend append = index.drainInto(timeline, pendingStart, bytes);
        pendingStart = append.end();
        committer.executeBlocking(() -> {
            long t0 = System.nanoTime();
            store.appendWal(List.of(append));
            commitNanos.add(System.nanoTime() - t0);
            commits.increment();
            committedBytes.add(bytes.length);
            return append.end();
        }, false).onComplete(ar -> {
            committing = false;
            if (ar.succeeded()) {
                flushed = ar.result();
                sendStatus(false);
                vertx.eventBus().publish(walDurableAddress(timeline), flushed.toString());
            } else {
                // Not durable, so not acknowledged. Start over from what the store really holds.
                LOG.log(Level.SEVERE, name + ": storing WAL failed; reconnecting", ar.cause());
                pending.reset();
                index.reset();
                closeSocket();
            }
            if (paused && socket != null) {
                socket.resume();
                paused = false;
            }
            if (pending.size() > 0) {
                commit();
            } else if (stopping && socket == null) {
                finishIfIdle();
            }
        });
    }

    private void sendStatus(boolean replyRequested) {
        PhysicalReplicationClient c = client;
        if (c == null || socket == null || c.state() != PhysicalReplicationClient.State.STREAMING) {
            return;
        }
        socket.write(Buffer.buffer(c.standbyStatusUpdate(received, flushed, flushed, replyRequested)));
    }

    private void flushOutbound() {
        if (client != null && socket != null) {
            byte[] out = client.drainOutbound();
            if (out.length > 0) {
                socket.write(Buffer.buffer(out));
            }
        }
    }

    private void closeSocket() {
        if (socket != null) {
            socket.close();
        }
    }

    /**
     * Event-bus address on which the new end of durable WAL of a timeline is published (as LSN text)
     * after every commit: WAL senders wait on it to follow new WAL.
     */
    public static String walDurableAddress(TimelineId timeline) {
        return "zenith.wal.durable." + timeline;
    }

    /** Where the record after one ending at {@code end} starts: records are 8-byte aligned. */
    public static Lsn nextRecordStart(Lsn end) {
        return Lsn.of((end.value() + 7) & ~7L);
    }
}
