package dev.zenith.wal.rmgr;

import dev.zenith.wal.ForkNumber;
import dev.zenith.wal.RelFileNode;
import dev.zenith.wal.RelTag;

/**
 * Redo clears visibility-map {@code bits} of {@code heapBlock} without a block reference to the map
 * page and without stamping that page's LSN (visibilitymap_clear). Redo also extends the map fork
 * to hold that page (visibilitymap_pin).
 */
public record VisibilityMapClear(RelFileNode rel, long heapBlock, int bits) {
    public RelTag mapFork() {
        return new RelTag(rel, ForkNumber.VISIBILITY_MAP);
    }

    public long mapBlock() {
        return VisibilityMap.mapBlock(heapBlock);
    }

    /** The byte of the map page (page offset, header included) whose bits are cleared. */
    public int pageByte() {
        return VisibilityMap.CONTENTS_OFFSET + VisibilityMap.mapByte(heapBlock);
    }

    /** The bits of {@link #pageByte()} that become zero. */
    public int pageMask() {
        return bits << VisibilityMap.mapOffset(heapBlock);
    }
}
