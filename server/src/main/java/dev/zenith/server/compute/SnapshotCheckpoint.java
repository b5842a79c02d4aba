package dev.zenith.server.compute;

import dev.zenith.server.anchor.AnchorRecorder;
import dev.zenith.server.domain.ConflictException;
import dev.zenith.server.jobs.Management;
import dev.zenith.storage.Store;
import dev.zenith.storage.anchor.AnchorStore;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.wal.Lsn;

import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.logging.Logger;

/**
 * Before a snapshot of a running primary's present: a checkpoint there, so the snapshot is next to an anchor of its
 * own. The compute is asked for a CHECKPOINT (through the daemon's SQL connection, without the management lock), and
 * the snapshot waits until that checkpoint's anchor is stored here (its record durable, its pg_control and status
 * files taken: {@link AnchorRecorder}), which queues its background materialization at once. A branch of the snapshot
 * then replays only the WAL between the checkpoint's redo point and the snapshot (a checkpoint's buffer writes, with
 * `checkpoint_completion_target` 0), not up to a checkpoint interval from the previous anchor. Any failure (the
 * compute stops, the query or the capture times out) leaves a snapshot as before, with a note saying so.
 */
final class SnapshotCheckpoint {
    private static final Logger LOG = Logger.getLogger(SnapshotCheckpoint.class.getName());
    /** CHECKPOINT writes the buffers dirtied since the last one (a checkpoint interval's): seconds, rarely more. */
    private static final int CHECKPOINT_SECONDS = 120;
    /** The record's way here (the receiver's next LMDB batch) and the capture (pg_control read back). */
    private static final Duration ANCHOR_WAIT = Duration.ofSeconds(30);

    private final Management management;
    private final ComputeChannels channels;
    private final AnchorRecorder anchors;
    private final boolean enabled;

    /** {@code enabled}: starts from anchors and background materialization are on (else a checkpoint buys nothing). */
    SnapshotCheckpoint(Management management, ComputeChannels channels, AnchorRecorder anchors, boolean enabled) {
        this.management = management;
        this.channels = channels;
        this.anchors = anchors;
        this.enabled = enabled;
    }

    /**
     * Makes the pg's present an anchored point, if it runs as a primary. Called under the management lock; lets go of
     * it while the compute checkpoints. Returns with the store holding every commit the pg acknowledged ({@link
     * Compute#catchUp}: after the checkpoint when it took one, a single wait either way). Returns a note when the
     * snapshot is taken without its own anchor, empty otherwise (also when there is nothing to do).
     *
     * @throws ConflictException when the pg moved to another timeline meanwhile (a checkout)
     */
    Optional<String> anchorPresent(Compute c, Store store) throws IOException {
        TimelineId timeline = c.record.timeline();
        if (!enabled || !c.running || !c.isPrimary() || c.busy != null || c.receiver == null) {
            c.catchUp();
            return Optional.empty();
        }
        if (!writtenSinceNewestAnchor(store, timeline)) {
            c.catchUp(); // the store trails the compute by a batch: what it holds so far may not say yet
            if (!writtenSinceNewestAnchor(store, timeline)) {
                return Optional.empty(); // nothing written since the newest anchor's checkpoint: it is this point's own
            }
        }
        ComputeSql sql = channels.sqlOf(c, store);
        long began = System.nanoTime();
        String failed = management.unlocked(() -> {
            try {
                Lsn checkpoint = sql.checkpoint(CHECKPOINT_SECONDS);
                long checkpointed = System.nanoTime();
                Optional<AnchorStore.Point> anchor = anchors.awaitAnchor(store, timeline, checkpoint, ANCHOR_WAIT);
                if (anchor.isEmpty()) {
                    return "the anchor of its checkpoint at " + checkpoint + " was not stored within "
                            + ANCHOR_WAIT.toSeconds() + " s";
                }
                LOG.info("pg " + c.name() + ": checkpoint " + checkpoint + " for a snapshot in " + millis(began, checkpointed)
                        + " ms, its anchor (redo point " + anchor.get().redoLsn() + ") stored "
                        + millis(checkpointed, System.nanoTime()) + " ms later");
                return null;
            } catch (IOException e) {
                return e.getMessage();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return "interrupted";
            }
        });
        if (!timeline.equals(c.record.timeline())) {
            throw new ConflictException("pg '" + c.name() + "' moved to another timeline while its snapshot was taken;"
                    + " try again");
        }
        c.catchUp(); // every commit acknowledged up to here, past the checkpoint record if it was taken
        if (failed == null) {
            return Optional.empty();
        }
        LOG.warning("pg " + c.name() + ": a snapshot without an anchor of its own: " + failed);
        return Optional.of("taken without a checkpoint of its own (" + failed + "): a branch of it replays the WAL since"
                + " the previous anchor");
    }

    /** Whether the stored WAL goes past the newest anchor's checkpoint record (true when there is no anchor). */
    private static boolean writtenSinceNewestAnchor(Store store, TimelineId timeline) {
        Lsn end = store.wal().lastRecordEnd(timeline).orElse(Lsn.INVALID);
        List<AnchorStore.Point> stored = store.anchors().pointsOf(timeline);
        return stored.isEmpty() || stored.get(stored.size() - 1).recordEnd().isBefore(end);
    }

    private static long millis(long from, long to) {
        return (to - from) / 1_000_000;
    }
}
