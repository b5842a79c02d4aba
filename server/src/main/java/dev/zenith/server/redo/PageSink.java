package dev.zenith.server.redo;

import dev.zenith.storage.wal.BlockRef;

import java.io.IOException;

/** Receives a redo run's answer, one wanted block at a time. */
@FunctionalInterface
public interface PageSink {
    /**
     * The block at the run's target: its 8192 bytes (checksum verified, pd_lsn at or below the
     * target; all zeros when the block exists but was never initialized), or null when the block
     * does not exist there. Called only after every wanted block has been read back and verified,
     * so a failed run hands out nothing; a caller that stores the pages commits them together.
     */
    void accept(BlockRef block, byte[] page) throws IOException;

    /**
     * Whether the run should also hand out its SLRU segment files at the target ({@link #acceptSlru}):
     * replay and the end of recovery leave them as PostgreSQL's own files are at that LSN.
     */
    default boolean wantsSlrus() {
        return false;
    }

    /** One SLRU segment file at the target (path relative to the data directory), after the wanted blocks. */
    default void acceptSlru(String path, byte[] content) throws IOException {
    }

    /**
     * Whether the run should also hand out every free-space map fork's length at the target
     * ({@link #acceptFreeSpaceMaps}): heap redo extends them (XLogRecordPageWithFreeSpace), truncations
     * and drops shorten or remove them, starting from the lengths the request gave for its forks.
     */
    default boolean wantsFreeSpaceMaps() {
        return false;
    }

    /** Every free-space map fork in the scratch directory once recovery ended, with its length in blocks. */
    default void acceptFreeSpaceMaps(java.util.Map<dev.zenith.wal.RelTag, Long> lengths) throws IOException {
    }
}
