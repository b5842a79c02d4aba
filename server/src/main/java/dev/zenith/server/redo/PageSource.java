package dev.zenith.server.redo;

import dev.zenith.storage.wal.BlockRef;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/** Where a redo run gets the pages it starts from. */
@FunctionalInterface
public interface PageSource {
    /**
     * The block exactly as it is at the anchor's redo point (8192 bytes), or null when it does not
     * exist there. A version from later than that point (but not after the target) is also fine:
     * replay skips what a page already has, as crash recovery always does.
     */
    byte[] page(BlockRef block) throws IOException;

    /**
     * {@link #page} of each of {@code blocks}, in their order (null where absent). A source that reads many
     * together for less than one read each (the store: one read transaction for a batch) says so here.
     */
    default List<byte[]> pages(List<BlockRef> blocks) throws IOException {
        List<byte[]> out = new ArrayList<>(blocks.size());
        for (BlockRef b : blocks) {
            out.add(page(b));
        }
        return out;
    }
}
