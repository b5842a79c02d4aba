package dev.zenith.storage.page;

import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.RelTag;
import dev.zenith.wal.SlruKind;

import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;

/**
 * What a page service asks one storage: a timeline's relations, pages, database sizes and SLRU
 * segments as of an LSN (the caller has checked that the LSN lies in the timeline's retention and
 * stored WAL). Every answer is exact; when there is none, a {@link PageUnavailableException} says why,
 * never an approximation. Blocking (LMDB reads): call from a worker thread. Thread-safe.
 *
 * <p>Answers follow Neon's page server: a fork that does not exist has no size, except that an absent
 * FSM or visibility-map fork has 0 blocks (PostgreSQL asks for their size right after creating them);
 * a block at or beyond the fork's size is an all-zero page.
 */
public interface PageSource {
    boolean exists(TimelineId timeline, RelTag rel, Lsn lsn);

    /** Blocks in the fork. */
    int nblocks(TimelineId timeline, RelTag rel, Lsn lsn);

    /** Bytes of the database's relations (every fork) in the default tablespace, as Neon counts them. */
    long dbSize(TimelineId timeline, int dbOid, Lsn lsn);

    /** The 8 KiB of one block. */
    byte[] page(TimelineId timeline, RelTag rel, int block, Lsn lsn);

    /**
     * The same, as a future a source completes later when the page takes long to make (a redo run), so
     * that the caller's thread can serve other requests meanwhile. Failures the request causes may be
     * thrown at once or complete the future. Blocking until it knows which.
     */
    default CompletableFuture<byte[]> pageLater(TimelineId timeline, RelTag rel, int block, Lsn lsn) {
        return CompletableFuture.completedFuture(page(timeline, rel, block, lsn));
    }

    /**
     * The same, when the block as it is at any point in [{@code lsn}, {@code upTo}] that the stored WAL reaches once
     * answered is a right answer: the request asked for the latest LSN (or one beyond the stored end), which Neon
     * answers at the end of WAL when it handles the request. A source may answer at a later point than {@code lsn}
     * when that is cheaper (a redo run whose target is the end of WAL when it starts, shared by every such read).
     */
    default CompletableFuture<byte[]> pageLater(TimelineId timeline, RelTag rel, int block, Lsn lsn, Lsn upTo) {
        return pageLater(timeline, rel, block, lsn);
    }

    /**
     * As {@link #pageLater(TimelineId, RelTag, int, Lsn, Lsn)}, a stored version still encoded: a page service
     * decodes it straight into its socket's buffer.
     */
    default CompletableFuture<StoredPage> storedPageLater(TimelineId timeline, RelTag rel, int block, Lsn lsn, Lsn upTo) {
        return pageLater(timeline, rel, block, lsn, upTo).thenApply(StoredPage::of);
    }

    /**
     * Every free-space map fork's length in blocks at the LSN, as PostgreSQL's crash recovery from the
     * newest image at or below it leaves them (docs/page-versions.md, "Free-space maps"); empty when this
     * source cannot tell. Blocking (may take a redo run).
     */
    default Optional<Map<RelTag, Long>> freeSpaceMaps(TimelineId timeline, Lsn lsn) {
        return Optional.empty();
    }

    /**
     * Completes once {@link #freeSpaceMaps} at the LSN answers without a redo run: at once when none is needed,
     * else when the run made on the source's run threads is done (so a page I/O thread never waits for one).
     */
    default CompletableFuture<Void> freeSpaceMapsReady(TimelineId timeline, Lsn lsn) {
        return CompletableFuture.completedFuture(null);
    }

    /**
     * Completes once sizes and existence at the LSN ({@link #exists}, {@link #nblocks}, {@link #dbSize}) are
     * answered from what is stored, without writing the store first (a page index catching up with the WAL):
     * at once in the common case, else when that work, done on the source's own threads, is done.
     */
    default CompletableFuture<Void> sizesReady(TimelineId timeline, Lsn lsn) {
        return CompletableFuture.completedFuture(null);
    }

    /** The whole segment file, a multiple of 8 KiB. */
    byte[] slruSegment(TimelineId timeline, SlruKind kind, int segment, Lsn lsn);

    /** The same, as a future a source completes later when the segment takes long to make (as {@link #pageLater}). */
    default CompletableFuture<byte[]> slruSegmentLater(TimelineId timeline, SlruKind kind, int segment, Lsn lsn) {
        return CompletableFuture.completedFuture(slruSegment(timeline, kind, segment, lsn));
    }
}
