package dev.zenith.wal.rmgr;

import dev.zenith.wal.segment.WalGeometry;

/**
 * Where a heap block's bits live in the visibility-map fork (access/visibilitymapdefs.h and the
 * macros of access/heap/visibilitymap.c): two bits per heap block, four heap blocks per byte, the
 * whole page after the 24-byte page header used for the map.
 */
public final class VisibilityMap {
    public static final int BITS_PER_HEAPBLOCK = 2;
    public static final int HEAPBLOCKS_PER_BYTE = 8 / BITS_PER_HEAPBLOCK;
    /** MAPSIZE: BLCKSZ - MAXALIGN(SizeOfPageHeaderData). */
    public static final int MAPSIZE = WalGeometry.BLCKSZ - 24;
    public static final int HEAPBLOCKS_PER_PAGE = MAPSIZE * HEAPBLOCKS_PER_BYTE;
    public static final int ALL_VISIBLE = 0x01;
    public static final int ALL_FROZEN = 0x02;
    public static final int VALID_BITS = ALL_VISIBLE | ALL_FROZEN;
    /** Offset of the map in a VM page (PageGetContents). */
    public static final int CONTENTS_OFFSET = 24;

    private VisibilityMap() {
    }

    /** HEAPBLK_TO_MAPBLOCK: the VM block holding a heap block's bits. */
    public static long mapBlock(long heapBlock) {
        return heapBlock / HEAPBLOCKS_PER_PAGE;
    }

    /** HEAPBLK_TO_MAPBYTE: the byte within that block's map. */
    public static int mapByte(long heapBlock) {
        return (int) ((heapBlock % HEAPBLOCKS_PER_PAGE) / HEAPBLOCKS_PER_BYTE);
    }

    /** HEAPBLK_TO_OFFSET: the shift of the heap block's two bits within that byte. */
    public static int mapOffset(long heapBlock) {
        return (int) ((heapBlock % HEAPBLOCKS_PER_BYTE) * BITS_PER_HEAPBLOCK);
    }

    /**
     * visibilitymap_prepare_truncate: the VM fork's length in blocks once its heap is cut to
     * {@code heapBlocks}. A partly used last map page stays (its tail bits are cleared).
     */
    public static long blocksAfterTruncate(long heapBlocks) {
        long block = mapBlock(heapBlocks);
        return mapByte(heapBlocks) != 0 || mapOffset(heapBlocks) != 0 ? block + 1 : block;
    }

    /** Whether cutting the heap to {@code heapBlocks} clears bits in a map page that stays. */
    public static boolean truncateClearsTail(long heapBlocks) {
        return mapByte(heapBlocks) != 0 || mapOffset(heapBlocks) != 0;
    }
}
