package dev.zenith.wal.rmgr;

import dev.zenith.wal.RelFileNode;

import java.util.OptionalLong;

/** XLOG_SMGR_TRUNCATE: forks named by {@code flags} (SMGR_TRUNCATE_*) cut to {@code blocks} blocks. */
public record SmgrTruncate(RelFileNode rel, long blocks, int flags) implements WalPayload {
    public static final int SMGR_TRUNCATE_HEAP = 0x0001;
    public static final int SMGR_TRUNCATE_VM = 0x0002;
    public static final int SMGR_TRUNCATE_FSM = 0x0004;

    public boolean truncatesMain() {
        return (flags & SMGR_TRUNCATE_HEAP) != 0;
    }

    public boolean truncatesVisibilityMap() {
        return (flags & SMGR_TRUNCATE_VM) != 0;
    }

    public boolean truncatesFreeSpaceMap() {
        return (flags & SMGR_TRUNCATE_FSM) != 0;
    }

    /**
     * The visibility-map page whose bits for the cut heap blocks redo clears in place, without
     * stamping its LSN (visibilitymap_prepare_truncate), when the cut falls inside a map page.
     */
    public OptionalLong visibilityMapPageCleared() {
        return truncatesVisibilityMap() && VisibilityMap.truncateClearsTail(blocks)
                ? OptionalLong.of(VisibilityMap.mapBlock(blocks)) : OptionalLong.empty();
    }

    /** The visibility map's length in blocks after the truncation, if it was longer. */
    public long visibilityMapBlocksAfter() {
        return VisibilityMap.blocksAfterTruncate(blocks);
    }
}
