package dev.zenith.server.ingest;

import dev.zenith.protocol.replication.PhysicalReplicationClient;
import dev.zenith.protocol.replication.ReplicationEvent;
import dev.zenith.server.config.ZenithConfig;
import dev.zenith.storage.Store;
import dev.zenith.storage.failure.StoreCorruptException;
import dev.zenith.storage.failure.WriteStall;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.storage.wal.WalAppend;
import dev.zenith.storage.wal.WalIndexer;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.decoder.EndOfWal;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.WorkerExecutor;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.internal.VertxInternal;
import io.vertx.core.net.NetClient;
import io.vertx.core.net.NetClientOptions;
import io.vertx.core.net.NetSocket;

import java.nio.ByteBuffer;
import java.util.function.BooleanSupplier;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The safekeeper role for one primary compute: a physical replication client that streams the compute's
 * WAL, checks every record (CRC, links), makes the bytes durable in the store's WAL journal (one
 * synchronous write, {@link dev.zenith.storage.journal.WalJournals#append}, on the stream's {@link JournalWriter} thread), and only
 * then reports the flush position, so the compute's synchronous commit returns only once its WAL is
 * durable with us. The same bytes then go into LMDB with their index ({@link dev.zenith.storage.wal.WalLog#append}, two
 * syncs and the B-tree pages), off the acknowledgement path and in bigger batches; readers (WAL
 * senders, snapshots) see WAL once it is there.
 *
 * <p>Group commit at both steps: while one journal write runs, everything that arrives queues up for
 * the journal writer and goes into its next write; while one LMDB commit runs, journaled batches queue up
 * and go in together. All state lives on one event-loop context; only the store calls run elsewhere
 * (journal writes on the journal writer, LMDB commits on workers).
 *
 * <p>About 500 lines on purpose: what is left is one state machine (connect, authenticate, stream,
 * reconnect, drain and stop) whose steps share the connection's state on one context; its parts with a
 * job of their own are beside it ({@link ReceiverProgress}, {@link ReceiverCounters}, {@link IndexBatcher},
 * {@link StallLog}, {@link JournalWriter}).
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
    private final String password;
    private final String applicationName;
    private final String slotName;
    private final long statusIntervalMs;
    private final int maxBatchBytes;
    private final long indexIntervalMs;
    private final BooleanSupplier computeAlive;
    private final WorkerExecutor lmdbWorkers; // LMDB commits of journaled WAL
    private final NetClient netClient;
    private final String name;

    /** Where the receiver is; its name is what GET /pgs shows as wal_receiver.state. */
    public enum State {
        CONNECTING("connecting"), AUTHENTICATING("authenticating"), STREAMING("streaming"),
        DISCONNECTED("disconnected"), COMPUTE_STOPPED("compute stopped"), STOPPED("stopped");

        private final String shown;

        State(String shown) {
            this.shown = shown;
        }

        @Override
        public String toString() {
            return shown;
        }
    }

    /** The state and the end of the WAL in LMDB, for the blocking waits of other threads. */
    private final ReceiverProgress progress = new ReceiverProgress();
    private final ReceiverCounters counters = new ReceiverCounters();
    private final StallLog stallLog;
    private final IndexBatcher batcher;
    private volatile Lsn flushed = Lsn.INVALID;
    private boolean stopping;
    private final Promise<Void> stopped = Promise.promise();

    // per connection
    private NetSocket socket;
    private PhysicalReplicationClient client;
    private WalIndexer indexer;        // decodes and indexes what arrives; its end is the end of the bytes received
    private JournalWriter journalWriter;

    private int journalingAppends;     // received and queued for the journal, not yet reported back
    private long journalingBytes;
    /** An LMDB commit failed: what is journaled from then on waits for the reconnect's journal replay. */
    private boolean indexFailed;
    private boolean paused;
    private long statusTimer = -1;
    private int failures;
    private volatile String storeDamage; // why the store refuses its journal (StoreCorruptException), until it takes it

    /** {@code password}: of the compute's role postgres (SCRAM), or null for a compute that trusts us. */
    public WalReceiver(Vertx vertx, Store store, TimelineId timeline, String host, int port, String password,
                       String applicationName, String slotName, ZenithConfig config, BooleanSupplier computeAlive) {
        this.vertx = vertx;
        // An event-loop context of its own, whichever thread creates it (a management thread is a worker's).
        this.context = ((VertxInternal) vertx).createEventLoopContext();
        this.store = store;
        this.timeline = timeline;
        this.host = host;
        this.port = port;
        this.password = password;
        this.applicationName = applicationName;
        this.slotName = slotName;
        this.statusIntervalMs = config.statusIntervalMs();
        // under an s3 storage's cache bound, batches eviction can always make room for
        this.maxBatchBytes = store.cacheRoom().walBatchBytes(config.maxBatchBytes(), IndexBatcher.STORED_PER_WAL_BYTE);
        this.indexIntervalMs = config.indexIntervalMs();
        this.computeAlive = computeAlive;
        this.lmdbWorkers = vertx.createSharedWorkerExecutor("zenith-wal-index", 4);
        this.netClient = vertx.createNetClient(new NetClientOptions().setTcpNoDelay(true).setConnectTimeout(5000));
        this.name = "WAL receiver for " + host + ":" + port;
        this.stallLog = new StallLog(store, timeline, name);
        this.batcher = new IndexBatcher(vertx, lmdbWorkers, store, indexIntervalMs, maxBatchBytes, counters,
                () -> stopping, new IndexReports());
    }

    public State state() {
        return progress.state();
    }

    /** The event-loop context all of its state lives on. */
    Context context() {
        return context;
    }

    /** Its state and commit figures since the receiver started. */
    public ReceiverFigures figures() {
        WriteStall stall = store.writeStall().orElse(null);
        String damage = storeDamage;
        String state = progress.state().toString();
        if (stopping) {
            return counters.figures(state, null, null, flushed, progress.indexed());
        }
        // A damaged or stalled store shows over the connection's own state (it is what holds commits up).
        if (damage != null) {
            return counters.figures("failed", damage, null, flushed, progress.indexed());
        }
        if (stall != null) {
            return counters.figures("stalled", stall.reason(), stall.since(), flushed, progress.indexed());
        }
        java.time.Instant full = store.cacheRoom().fullSince();
        if (full != null) {
            return counters.figures("waiting for cache room", store.cacheRoom().fullReason(), full, flushed,
                    progress.indexed());
        }
        return counters.figures(state, null, null, flushed, progress.indexed());
    }

    /**
     * Blocks (never on an event loop) until LMDB holds all WAL acknowledged so far, so that "now" read
     * from the store includes every commit that returned. False if that took longer than the timeout.
     */
    public boolean awaitIndexed(long timeoutMs) throws InterruptedException {
        Lsn target = flushed;
        if (progress.indexed().isBefore(target)) {
            context.runOnContext(v -> batcher.indexNow()); // someone waits: do not wait for the interval
        }
        return progress.await(() -> !progress.indexed().isBefore(target), timeoutMs);
    }

    /**
     * Blocks (never on an event loop) until the receiver streams from its compute, so that WAL the
     * compute writes from now on (a shutdown checkpoint, say) reaches the store. False on timeout.
     */
    public boolean awaitStreaming(long timeoutMs) throws InterruptedException {
        return progress.await(() -> progress.state() == State.STREAMING, timeoutMs);
    }

    private void setState(State s) {
        progress.setState(s);
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
        setState(State.CONNECTING);
        vertx.executeBlocking(() -> {
                    // WAL journaled but not in LMDB (an LMDB commit failed) goes in first: LMDB's end is where we resume.
                    store.journals().replay(timeline);
                    return WalIndexer.resume(store.wal(), timeline);
                }, false)
                .map(resumed -> {
                    storeDamage = null;
                    indexFailed = false; // the journal's WAL is in LMDB again
                    indexer = resumed;
                    flushed = resumed.end();
                    progress.setIndexed(resumed.end());
                    return resumed.end();
                })
                .compose(walEnd -> netClient.connect(port, host).map(s -> {
                    onConnected(s, walEnd);
                    return null;
                }))
                .onFailure(this::connectionFailed);
    }

    private void onConnected(NetSocket s, Lsn startLsn) {
        socket = s;
        journalWriter = new JournalWriter("zenith-wal-journal " + host + ":" + port, store, timeline, maxBatchBytes,
                context, new JournalReports());
        client = new PhysicalReplicationClient(new PhysicalReplicationClient.Config(
                "postgres", password, applicationName, slotName, startLsn, PG_TIMELINE_UNKNOWN));
        s.handler(this::onBytes);
        s.closeHandler(v -> onClosed());
        s.exceptionHandler(e -> LOG.log(Level.FINE, name + ": socket error", e));
        s.write(Buffer.buffer(client.startupPacket()));
        setState(State.AUTHENTICATING);
        statusTimer = vertx.setPeriodic(statusIntervalMs, id -> sendStatus(false));
    }

    private void connectionFailed(Throwable t) {
        socket = null;
        if (stopping) {
            finishIfIdle();
            return;
        }
        stallLog.noteStall();
        failures++;
        if (t instanceof StoreCorruptException damaged) {
            // The store cannot take in what its journal holds: nothing is acknowledged until that is repaired.
            if (!damaged.getMessage().equals(storeDamage)) {
                LOG.severe(name + ": the storage is damaged, no commit is acknowledged: " + damaged.getMessage());
            }
            storeDamage = damaged.getMessage();
        } else if (failures == 1 || failures % 50 == 0) {
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
        if (journalWriter != null) {
            journalWriter.close(); // it reports what is still queued, then its thread ends
            journalWriter = null;
        }
        if (stopping) {
            finishIfIdle();
            return;
        }
        setState(State.DISCONNECTED);
        scheduleReconnect();
    }

    /** Reconnects once the in-flight store calls are done, re-deriving positions from the store. */
    private void scheduleReconnect() {
        if (journalingAppends > 0 || batcher.indexing() || batcher.hasUnindexed()) {
            vertx.setTimer(50, id -> scheduleReconnect());
            return;
        }
        indexer = null; // bytes never journaled (an invalid chunk, a failed write) are streamed again
        vertx.executeBlocking(computeAlive::getAsBoolean, false).onComplete(ar -> {
            if (stopping) {
                finishIfIdle();
            } else if (ar.succeeded() && ar.result()) {
                vertx.setTimer(Math.min(200L * Math.max(failures, 1), 2000), id -> connect());
            } else {
                setState(State.COMPUTE_STOPPED);
                LOG.info(name + ": the compute is gone; receiver idle");
            }
        });
    }

    private void finishIfIdle() {
        if (journalingAppends > 0 || batcher.indexing()) {
            return; // their completion comes back here
        }
        if (batcher.hasUnindexed()) {
            batcher.index();
            return;
        }
        setState(State.STOPPED);
        netClient.close();
        lmdbWorkers.close();
        stopped.tryComplete();
    }

    // ---- streaming ----

    private void onBytes(Buffer buf) {
        PhysicalReplicationClient c = client;
        if (c == null) {
            return;
        }
        counters.socketRead();
        c.feed(buf.getBytes());
        flushOutbound();
        ReplicationEvent e;
        while (client != null && (e = client.poll()) != null) {
            handle(e);
        }
    }

    private void handle(ReplicationEvent e) {
        if (e instanceof ReplicationEvent.StreamingStarted s) {
            setState(State.STREAMING);
            // The journal's first file, zero-filled off the acknowledgement path while the stream starts.
            vertx.executeBlocking(() -> {
                store.journals().prepare(timeline);
                return null;
            }, false).onFailure(err -> LOG.log(Level.FINE, name + ": could not prepare the WAL journal", err));
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
        counters.walMessage();
        ByteBuffer data = w.data();
        Lsn start = w.startLsn();
        Lsn received = indexer.end();
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
        EndOfWal invalid = indexer.feed(bytes);
        if (invalid != null) {
            // Streamed WAL is flushed WAL: it never ends in invalid bytes. Refuse to store garbage.
            LOG.severe(name + ": invalid WAL from the compute: " + invalid + "; not acknowledging it");
            closeSocket();
            return;
        }
        WalAppend append = indexer.drain(); // null while all of it is a record held back to be rewritten
        if (append != null) {
            journalWriter.submit(append);
            journalingAppends++;
            journalingBytes += append.bytes().length;
        }
        applyBackpressure();
    }

    /** Stops reading the compute's WAL while too much waits for the disk, so memory stays bounded. */
    private void applyBackpressure() {
        boolean behind = journalingBytes >= 2L * maxBatchBytes || batcher.unindexedBytes() >= 4L * maxBatchBytes;
        if (behind && !paused && socket != null) {
            socket.pause();
            paused = true;
        } else if (!behind && paused && socket != null) {
            socket.resume();
            paused = false;
        }
    }

    /** Step 1 done by the journal writer: the compute hears its WAL is flushed, and it goes on to LMDB. */
    private final class JournalReports implements JournalWriter.Reports {
        @Override
        public void journaled(WalAppend batch, int appends, long nanos) {
            journalingAppends -= appends;
            journalingBytes -= batch.bytes().length;
            counters.journaled(batch.bytes().length, nanos);
            flushed = batch.end();
            sendStatus(false);
            stallLog.noteResumed();
            if (!indexFailed) { // else the reconnect's journal replay brings it into LMDB, in order
                batcher.add(batch);
            }
            afterJournalReport();
        }

        @Override
        public void failed(int appends, long bytes, Throwable cause) {
            journalingAppends -= appends;
            journalingBytes -= bytes;
            stallLog.noteStall();
            if (socket != null) {
                // Not durable, so not acknowledged. Start over from what the store really holds.
                LOG.log(Level.SEVERE, name + ": journaling WAL failed; reconnecting", cause);
                closeSocket();
            }
            afterJournalReport();
        }

        private void afterJournalReport() {
            applyBackpressure();
            if (stopping && socket == null) {
                finishIfIdle();
            }
        }
    }

    /** Step 2 done by the batcher: WAL senders and snapshots can see the WAL now. */
    private final class IndexReports implements IndexBatcher.Reports {
        @Override
        public void indexed(Lsn end) {
            progress.setIndexed(end);
            vertx.eventBus().publish(walDurableAddress(timeline), end.toString());
        }

        @Override
        public void failed(Throwable cause) {
            // The journal holds it durably; reconnecting replays the journal into LMDB first.
            stallLog.noteStall();
            LOG.log(Level.SEVERE, name + ": storing journaled WAL in LMDB failed; reconnecting", cause);
            indexFailed = true;
            closeSocket();
        }

        @Override
        public void settled(boolean morePending) {
            applyBackpressure();
            if (!morePending && stopping && socket == null) {
                finishIfIdle();
            }
        }
    }

    private void sendStatus(boolean replyRequested) {
        PhysicalReplicationClient c = client;
        if (c == null || socket == null || c.state() != PhysicalReplicationClient.State.STREAMING) {
            return;
        }
        socket.write(Buffer.buffer(c.standbyStatusUpdate(indexer.end(), flushed, flushed, replyRequested)));
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
     * after every LMDB commit of its WAL: WAL senders wait on it to follow new WAL.
     */
    public static String walDurableAddress(TimelineId timeline) {
        return "zenith.wal.durable." + timeline;
    }
}
