package dev.zenith.server.anchor;

import dev.zenith.server.ingest.WalReceiver;
import dev.zenith.storage.Store;
import dev.zenith.storage.failure.StoreException;
import dev.zenith.storage.anchor.AnchorStore;
import dev.zenith.storage.anchor.StoredAnchor;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.decoder.DecodeResult;
import dev.zenith.wal.decoder.WalStreamDecoder;
import dev.zenith.wal.record.DecodedRecord;
import dev.zenith.wal.rmgr.CheckpointRecord;
import dev.zenith.wal.rmgr.MainDataDecoder;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.MessageConsumer;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.BiConsumer;
import java.util.function.BooleanSupplier;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Captures an anchor at every checkpoint record of a running primary once that record is durable
 * in the store: the WAL receiver publishes each new durable end (after its LMDB commit, which also
 * indexed the checkpoint records); a thread of our own then reads the new checkpoint records,
 * {@link AnchorCapture#capture}s the primary's pg_control and status files and stores the anchor.
 * Never on the acknowledgement path or an event loop.
 */
public final class AnchorRecorder implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(AnchorRecorder.class.getName());
    private static final Duration CAPTURE_WAIT = Duration.ofSeconds(10);
    private static final int CHECKPOINT_READ = 16 * 1024;

    private final Vertx vertx;
    private final ExecutorService worker = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "zenith-anchors");
        t.setDaemon(true);
        return t;
    });
    private final BiConsumer<Store, TimelineId> stored;

    /** {@code stored}: told after each anchor is stored (background materialization's cue). */
    public AnchorRecorder(Vertx vertx, BiConsumer<Store, TimelineId> stored) {
        this.vertx = vertx;
        this.stored = stored;
    }

    /** Follows the primary writing {@code timeline} from {@code pgdata} while {@code running} says so. */
    public void follow(Store store, TimelineId timeline, Path pgdata, BooleanSupplier running) {
        Lsn[] seen = {store.anchors().of(timeline).stream().map(StoredAnchor::checkpointLsn)
                .reduce((a, b) -> b).orElse(Lsn.INVALID)};
        MessageConsumer<String>[] consumer = new MessageConsumer[1];
        consumer[0] = vertx.eventBus().<String>consumer(WalReceiver.walDurableAddress(timeline), m -> {
            if (!running.getAsBoolean()) {
                consumer[0].unregister();
                return;
            }
            Lsn durable = Lsn.parse(m.body());
            worker.execute(() -> {
                try {
                    seen[0] = captureUpTo(store, timeline, pgdata, seen[0], durable);
                } catch (IOException | RuntimeException e) {
                    LOG.log(Level.WARNING, "anchor capture on timeline " + timeline + " failed", e);
                }
            });
        });
    }

    /**
     * Waits (at most {@code wait}) until an anchor of the timeline at or past the checkpoint record at {@code checkpoint}
     * is stored: that checkpoint's, or a later one's when PostgreSQL made another before this one's was taken. Blocking:
     * never on an event loop.
     */
    public Optional<AnchorStore.Point> awaitAnchor(Store store, TimelineId timeline, Lsn checkpoint, Duration wait)
            throws InterruptedException {
        long deadline = System.nanoTime() + wait.toNanos();
        synchronized (this) {
            while (true) {
                Optional<AnchorStore.Point> found = store.anchors().pointsOf(timeline).stream()
                        .filter(a -> !a.checkpointLsn().isBefore(checkpoint)).findFirst();
                long left = deadline - System.nanoTime();
                if (found.isPresent() || left <= 0) {
                    return found;
                }
                // woken after each stored anchor; the bound covers a capture that stored nothing (superseded)
                wait(Math.max(1, Math.min(TimeUnit.NANOSECONDS.toMillis(left), 100)));
            }
        }
    }

    /** Captures the checkpoints whose records lie in (after, durable]; returns the last one looked at. */
    private Lsn captureUpTo(Store store, TimelineId timeline, Path pgdata, Lsn after, Lsn durable) throws IOException {
        if (!durable.isAfter(after)) {
            return after;
        }
        List<Lsn> checkpoints = store.changes().checkpoints(timeline, after, durable);
        Lsn last = after;
        boolean any = false;
        for (Lsn at : checkpoints) {
            if (at.isAfter(after)) {
                any |= capture(store, timeline, pgdata, at);
                last = at;
            }
        }
        if (any) {
            stored.accept(store, timeline);
            synchronized (this) {
                notifyAll(); // a snapshot waiting for its checkpoint's anchor
            }
        }
        return last;
    }

    private static boolean capture(Store store, TimelineId timeline, Path pgdata, Lsn at) throws IOException {
        DecodedRecord rec = record(store, timeline, at);
        if (!(MainDataDecoder.decode(rec).orElse(null) instanceof CheckpointRecord c)) {
            throw new StoreException("the checkpoint index of timeline " + timeline + " names " + at
                    + ", which is no checkpoint record");
        }
        Optional<Anchor> anchor = AnchorCapture.capture(pgdata, at, c.checkpoint(), CAPTURE_WAIT);
        if (anchor.isEmpty()) {
            LOG.fine(() -> "checkpoint " + at + " of timeline " + timeline + " superseded before its anchor was taken");
            return false;
        }
        Anchor a = anchor.get();
        store.anchors().put(new StoredAnchor(timeline, at, a.redoLsn(), rec.endLsn(), a.pgTimeline(), a.pgControl(),
                a.files()));
        return true;
    }

    private static DecodedRecord record(Store store, TimelineId timeline, Lsn at) {
        WalStreamDecoder decoder = WalStreamDecoder.startingAt(at);
        decoder.feed(store.wal().read(timeline, at, CHECKPOINT_READ));
        DecodeResult r = decoder.poll();
        if (r instanceof DecodedRecord rec && rec.startLsn().equals(at)) {
            return rec;
        }
        throw new StoreException("the checkpoint record at " + at + " of timeline " + timeline + " does not decode: " + r);
    }

    @Override
    public void close() {
        worker.shutdownNow();
    }
}
