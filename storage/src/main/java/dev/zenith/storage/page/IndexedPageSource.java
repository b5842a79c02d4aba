package dev.zenith.storage.page;

import dev.zenith.storage.index.IndexNotReadyException;
import dev.zenith.storage.index.IndexCatchUps;
import dev.zenith.storage.index.PageIndex;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.wal.ForkNumber;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.RelFileNode;
import dev.zenith.wal.RelTag;
import dev.zenith.wal.SlruKind;
import dev.zenith.wal.change.RelationSizes;
import dev.zenith.wal.segment.WalGeometry;

import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.function.Supplier;

/**
 * Relation existence, sizes and database sizes at any LSN the page index covers (main, visibility-map
 * and init forks: {@link PageIndex}); pages, SLRU segments and free-space maps (not WAL-logged, so not
 * in the index) as the source it wraps answers them (free-space maps at any LSN where it can run redo) ({@link ImagePageSource}: exactly in an image's window;
 * the daemon's redo source: pages at any LSN). A database's
 * size in an image's window is the image's (every fork, as the files); elsewhere the bytes of its
 * main, visibility-map and init forks.
 */
public final class IndexedPageSource implements PageSource {
    private final PageIndex index;
    /** Pages, SLRU segments, free-space maps, and what an image's window answers: the page versions' source. */
    private final PageSource images;

    /** Where the index catches up when a question is beyond it (LMDB writes: not the asking page I/O thread). */
    private final IndexCatchUps catchUps;

    /** {@code catchUps}: the store's one gathering of catch-ups (its page source for pages shares it). */
    public IndexedPageSource(PageIndex index, PageSource images, IndexCatchUps catchUps) {
        this.index = index;
        this.images = images;
        this.catchUps = catchUps;
    }

    /** One whose catch-ups run on {@code catchUps}. */
    public IndexedPageSource(PageIndex index, PageSource images, Executor catchUps) {
        this(index, images, new IndexCatchUps(index.indexer(), catchUps));
    }

    /** One whose index catches up on the asking thread. */
    public IndexedPageSource(PageIndex index, PageSource images) {
        this(index, images, Runnable::run);
    }

    @Override
    public CompletableFuture<Void> sizesReady(TimelineId timeline, Lsn lsn) {
        if (index.covers(timeline, lsn)) {
            return CompletableFuture.completedFuture(null);
        }
        return catchUps.reach(timeline, lsn).thenCompose(v -> images.sizesReady(timeline, lsn));
    }

    @Override
    public boolean exists(TimelineId timeline, RelTag rel, Lsn lsn) {
        if (!RelationSizes.tracks(rel.fork())) {
            return images.exists(timeline, rel, lsn);
        }
        return indexed(() -> index.exists(timeline, rel, lsn), lsn);
    }

    @Override
    public int nblocks(TimelineId timeline, RelTag rel, Lsn lsn) {
        if (!RelationSizes.tracks(rel.fork())) {
            return images.nblocks(timeline, rel, lsn);
        }
        OptionalLong n = indexed(() -> index.nblocks(timeline, rel, lsn), lsn);
        if (n.isPresent()) {
            return (int) n.getAsLong();
        }
        if (rel.fork() == ForkNumber.VISIBILITY_MAP) {
            return 0; // as Neon: PostgreSQL creates the fork and asks its size before extending it
        }
        throw new PageUnavailableException(PageUnavailableException.Reason.NOT_FOUND,
                "relation " + rel.path() + " does not exist at " + lsn);
    }

    @Override
    public long dbSize(TimelineId timeline, int dbOid, Lsn lsn) {
        try {
            return images.dbSize(timeline, dbOid, lsn);
        } catch (PageUnavailableException e) {
            if (e.reason() != PageUnavailableException.Reason.NOT_MATERIALIZED) {
                throw e;
            }
        }
        int spc = RelFileNode.DEFAULT_TABLESPACE;
        if (!indexed(() -> index.databaseExists(timeline, spc, dbOid, lsn), lsn)) {
            throw new PageUnavailableException(PageUnavailableException.Reason.NOT_FOUND,
                    "database " + Integer.toUnsignedString(dbOid) + " does not exist at " + lsn);
        }
        long blocks = indexed(() -> index.forksOf(timeline, spc, dbOid, lsn), lsn).values().stream()
                .mapToLong(Long::longValue).sum();
        // free-space maps where the source can tell them (else the size leaves them out, as it always did)
        blocks += images.freeSpaceMaps(timeline, lsn).map(fsm -> fsm.entrySet().stream()
                .filter(e -> e.getKey().node().spcOid() == spc && e.getKey().node().dbOid() == dbOid)
                .mapToLong(Map.Entry::getValue).sum()).orElse(0L);
        return blocks * WalGeometry.BLCKSZ;
    }

    @Override
    public Optional<Map<RelTag, Long>> freeSpaceMaps(TimelineId timeline, Lsn lsn) {
        return images.freeSpaceMaps(timeline, lsn);
    }

    @Override
    public CompletableFuture<Void> freeSpaceMapsReady(TimelineId timeline, Lsn lsn) {
        return images.freeSpaceMapsReady(timeline, lsn);
    }

    @Override
    public byte[] page(TimelineId timeline, RelTag rel, int block, Lsn lsn) {
        return images.page(timeline, rel, block, lsn);
    }

    @Override
    public CompletableFuture<byte[]> pageLater(TimelineId timeline, RelTag rel, int block, Lsn lsn) {
        return images.pageLater(timeline, rel, block, lsn);
    }

    @Override
    public CompletableFuture<byte[]> pageLater(TimelineId timeline, RelTag rel, int block, Lsn lsn, Lsn upTo) {
        return images.pageLater(timeline, rel, block, lsn, upTo);
    }

    @Override
    public CompletableFuture<StoredPage> storedPageLater(TimelineId timeline, RelTag rel, int block, Lsn lsn, Lsn upTo) {
        return images.storedPageLater(timeline, rel, block, lsn, upTo);
    }

    @Override
    public byte[] slruSegment(TimelineId timeline, SlruKind kind, int segment, Lsn lsn) {
        return images.slruSegment(timeline, kind, segment, lsn);
    }

    @Override
    public CompletableFuture<byte[]> slruSegmentLater(TimelineId timeline, SlruKind kind, int segment, Lsn lsn) {
        return images.slruSegmentLater(timeline, kind, segment, lsn);
    }

    private static <T> T indexed(Supplier<T> question, Lsn lsn) {
        try {
            return question.get();
        } catch (IndexNotReadyException e) {
            throw new PageUnavailableException(PageUnavailableException.Reason.NOT_MATERIALIZED,
                    "not materialized at " + lsn + " yet: " + e.getMessage());
        }
    }
}
