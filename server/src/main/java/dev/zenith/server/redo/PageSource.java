package dev.zenith.server.redo;

import dev.zenith.storage.wal.BlockRef;

import java.io.IOException;

/** Where a redo run gets the pages it starts from. */
@FunctionalInterface
public interface PageSource {
    /**
     * The block exactly as it is at the anchor's redo point (8192 bytes), or null when it does not
     * exist there. A version from later than that point (but not after the target) is also fine:
     * replay skips what a page already has, as crash recovery always does.
     */
    byte[] page(BlockRef block) throws IOException;
}
