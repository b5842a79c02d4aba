package dev.zenith.server.redo;

import dev.zenith.storage.Store;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.storage.wal.BlockRef;
import dev.zenith.wal.Lsn;

import java.util.concurrent.CompletableFuture;

/**
 * Pages as a process replaying a timeline's WAL right now has them (the {@code follower} package's standbys): what a
 * latest read tries before a redo run. An answer is only ever a page whose last change is {@code change}, or a later
 * change {@code later} accepts; anything else (no follower, not there yet, not provably that version) completes with
 * null and the read runs redo as before.
 */
public interface LivePages {
    LivePages NONE = (store, timeline, block, change, later) -> CompletableFuture.completedFuture(null);

    /**
     * Where a read may also be answered by a later version of its block than the one it asked for: the read's own
     * source decides, as it alone knows the point the read may move to.
     */
    @FunctionalInterface
    interface LaterChanges {
        LaterChanges NONE = pageLsn -> null;

        /**
         * The change (a record end) whose version key is {@code pageLsn} when it is the block's last change at a point
         * the read may be answered at; else null. Blocking (LMDB reads).
         */
        Lsn lastChangeKeyed(Lsn pageLsn);
    }

    /**
     * The block as the record ending at {@code change} left it (its last change at the read's target, by the page
     * index), or as a later change {@code later} names left it, or null. Called on a page I/O thread: must not block
     * beyond a few file reads.
     */
    CompletableFuture<byte[]> page(Store store, TimelineId timeline, BlockRef block, Lsn change, LaterChanges later);

    /**
     * Whether the timeline's live pages are served now or soon (a follower replays it or is starting): then a latest
     * read of a block changed since its stored version is mostly answered here, not by a run. Non-blocking.
     */
    default boolean coming(Store store, TimelineId timeline) {
        return false;
    }
}
