package dev.zenith.server.redo;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** freespace.c's address math: root at block 0, then each level-1 page followed by its 4069 leaves. */
class FreeSpaceMapGrowthTest {
    @Test
    void leafPagesFollowTheirUpperPages() {
        assertEquals(2, FreeSpaceMapGrowth.leafBlock(0));
        assertEquals(2, FreeSpaceMapGrowth.leafBlock(4068));
        assertEquals(3, FreeSpaceMapGrowth.leafBlock(4069));
        assertEquals(4070, FreeSpaceMapGrowth.leafBlock(4069L * 4069 - 1)); // the last leaf under the first level-1 page
        assertEquals(4072, FreeSpaceMapGrowth.leafBlock(4069L * 4069)); // the second level-1 page at 4071, its first leaf
    }
}
