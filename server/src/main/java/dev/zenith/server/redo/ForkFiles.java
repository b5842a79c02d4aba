package dev.zenith.server.redo;

import dev.zenith.storage.image.DataDirectoryLayout;
import dev.zenith.storage.page.PageLayout;
import dev.zenith.wal.RelTag;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Blocks of a relation fork in a data directory, across its 1 GiB segment files (md.c's layout:
 * segment N holds blocks N * RELSEG_SIZE onwards, and a segment counts only when the ones before
 * it are full).
 */
final class ForkFiles {
    private static final long SEGMENT_BYTES = (long) PageLayout.RELSEG_SIZE * PageLayout.BLCKSZ;

    private ForkFiles() {
    }

    private static Path segment(Path dataDir, RelTag rel, long segno) {
        return dataDir.resolve(DataDirectoryLayout.segmentPath(rel, (int) segno));
    }

    /** Writes one block, creating the fork and growing earlier segments to full size (sparse) as needed. */
    static void write(Path dataDir, RelTag rel, long block, byte[] page) throws IOException {
        if (page.length != PageLayout.BLCKSZ) {
            throw new IllegalArgumentException("a page has " + PageLayout.BLCKSZ + " bytes, not " + page.length);
        }
        long segno = block / PageLayout.RELSEG_SIZE;
        extend(dataDir, rel, segno * PageLayout.RELSEG_SIZE);
        Path file = segment(dataDir, rel, segno);
        Files.createDirectories(file.getParent());
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            f.seek((block % PageLayout.RELSEG_SIZE) * PageLayout.BLCKSZ);
            f.write(page);
        }
    }

    /** Makes the fork at least {@code blocks} long, zeros (sparse) where nothing was written. */
    static void extend(Path dataDir, RelTag rel, long blocks) throws IOException {
        long bytes = blocks * PageLayout.BLCKSZ;
        for (long segno = 0; segno * SEGMENT_BYTES < bytes || segno == 0; segno++) {
            Path file = segment(dataDir, rel, segno);
            Files.createDirectories(file.getParent());
            long length = Math.min(SEGMENT_BYTES, bytes - segno * SEGMENT_BYTES);
            try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
                if (f.length() < length) {
                    f.setLength(length);
                }
            }
            if (length < SEGMENT_BYTES) {
                break;
            }
        }
    }

    /** The block's bytes, or null when the fork or the block does not exist (mdnblocks' view). */
    static byte[] read(Path dataDir, RelTag rel, long block) throws IOException {
        long segno = block / PageLayout.RELSEG_SIZE;
        for (long s = 0; s < segno; s++) {
            Path earlier = segment(dataDir, rel, s);
            if (!Files.exists(earlier) || Files.size(earlier) < SEGMENT_BYTES) {
                return null; // md.c stops at the first segment that is not full
            }
        }
        Path file = segment(dataDir, rel, segno);
        if (!Files.exists(file)) {
            return null;
        }
        long offset = (block % PageLayout.RELSEG_SIZE) * PageLayout.BLCKSZ;
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "r")) {
            if (f.length() < offset + PageLayout.BLCKSZ) {
                return null;
            }
            byte[] page = new byte[PageLayout.BLCKSZ];
            f.seek(offset);
            f.readFully(page);
            return page;
        }
    }
}
