package dev.zenith.server.redo;

import dev.zenith.storage.image.DataDirectoryLayout;
import dev.zenith.wal.RelTag;
import dev.zenith.wal.segment.WalGeometry;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Blocks of relation forks in one data directory, across their 1 GiB segment files (md.c's layout:
 * segment N holds blocks N * RELSEG_SIZE onwards, and a segment counts only when the ones before
 * it are full). Keeps recently used segment files open: a run reads and writes thousands of blocks.
 */
final class ForkFiles implements AutoCloseable {
    private static final long SEGMENT_BYTES = (long) WalGeometry.RELSEG_SIZE * WalGeometry.BLCKSZ;
    private static final int OPEN_FILES = 64;

    private final Path dataDir;
    private final Map<Path, FileChannel> open = new LinkedHashMap<>(16, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<Path, FileChannel> eldest) {
            if (size() <= OPEN_FILES) {
                return false;
            }
            try {
                eldest.getValue().close();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            return true;
        }
    };

    ForkFiles(Path dataDir) {
        this.dataDir = dataDir;
    }

    private Path segment(RelTag rel, long segno) {
        return dataDir.resolve(DataDirectoryLayout.segmentPath(rel, (int) segno));
    }

    /** An open channel on the segment file, or null when it does not exist and {@code create} is false. */
    private FileChannel channel(Path file, boolean create) throws IOException {
        FileChannel c = open.get(file);
        if (c != null) {
            return c;
        }
        try {
            if (create) {
                Files.createDirectories(file.getParent());
                c = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
            } else {
                c = FileChannel.open(file, StandardOpenOption.READ);
            }
        } catch (NoSuchFileException e) {
            return null;
        }
        open.put(file, c);
        return c;
    }

    /** Writes one block, creating the fork and growing earlier segments to full size (sparse) as needed. */
    void write(RelTag rel, long block, byte[] page) throws IOException {
        if (page.length != WalGeometry.BLCKSZ) {
            throw new IllegalArgumentException("a page has " + WalGeometry.BLCKSZ + " bytes, not " + page.length);
        }
        long segno = block / WalGeometry.RELSEG_SIZE;
        if (segno > 0) {
            extend(rel, segno * WalGeometry.RELSEG_SIZE);
        }
        FileChannel c = channel(segment(rel, segno), true);
        ByteBuffer b = ByteBuffer.wrap(page);
        long at = (block % WalGeometry.RELSEG_SIZE) * WalGeometry.BLCKSZ;
        while (b.hasRemaining()) {
            at += c.write(b, at);
        }
    }

    /** Makes the fork (created if missing) at least {@code blocks} long, zeros (sparse) where nothing was written. */
    void extend(RelTag rel, long blocks) throws IOException {
        long bytes = blocks * WalGeometry.BLCKSZ;
        for (long segno = 0; segno == 0 || segno * SEGMENT_BYTES < bytes; segno++) {
            FileChannel c = channel(segment(rel, segno), true);
            long length = Math.min(SEGMENT_BYTES, bytes - segno * SEGMENT_BYTES);
            if (c.size() < length) {
                c.write(ByteBuffer.allocate(1), length - 1); // sparse: only the last byte is written
            }
            if (length < SEGMENT_BYTES) {
                break;
            }
        }
    }

    /** The block's bytes, or null when the fork or the block does not exist (mdnblocks' view). */
    byte[] read(RelTag rel, long block) throws IOException {
        long segno = block / WalGeometry.RELSEG_SIZE;
        for (long s = 0; s < segno; s++) {
            FileChannel earlier = channel(segment(rel, s), false);
            if (earlier == null || earlier.size() < SEGMENT_BYTES) {
                return null; // md.c stops at the first segment that is not full
            }
        }
        FileChannel c = channel(segment(rel, segno), false);
        long at = (block % WalGeometry.RELSEG_SIZE) * WalGeometry.BLCKSZ;
        if (c == null || c.size() < at + WalGeometry.BLCKSZ) {
            return null;
        }
        ByteBuffer b = ByteBuffer.allocate(WalGeometry.BLCKSZ);
        while (b.hasRemaining()) {
            int n = c.read(b, at + b.position());
            if (n < 0) {
                return null;
            }
        }
        return b.array();
    }

    @Override
    public void close() throws IOException {
        IOException first = null;
        for (FileChannel c : open.values()) {
            try {
                c.close();
            } catch (IOException e) {
                first = first == null ? e : first;
            }
        }
        open.clear();
        if (first != null) {
            throw first;
        }
    }
}
