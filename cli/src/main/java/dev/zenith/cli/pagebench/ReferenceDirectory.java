package dev.zenith.cli.pagebench;

import dev.zenith.protocol.pagestream.RelationKey;
import dev.zenith.wal.segment.WalGeometry;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A PostgreSQL data directory as of the benchmark's LSN (for latest: a cleanly stopped pg's own
 * directory), read block by block to check the pages the server sends. A block past a file's end
 * reads as zeros, as the page service answers it.
 */
final class ReferenceDirectory implements AutoCloseable {

    private final Path dir;
    private final Map<String, FileChannel> open = new ConcurrentHashMap<>();

    ReferenceDirectory(Path dir) {
        this.dir = dir;
    }

    byte[] block(RelationKey rel, int block) throws IOException {
        long b = Integer.toUnsignedLong(block);
        String path = rel.toRelTag().path() + (b >= WalGeometry.RELSEG_SIZE ? "." + (b / WalGeometry.RELSEG_SIZE) : "");
        byte[] page = new byte[WalGeometry.BLCKSZ];
        FileChannel ch;
        try {
            ch = open.computeIfAbsent(path, p -> {
                try {
                    return FileChannel.open(dir.resolve(p), StandardOpenOption.READ);
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            });
        } catch (java.io.UncheckedIOException e) {
            if (e.getCause() instanceof NoSuchFileException) {
                return page; // a segment (or fork) that does not exist: beyond the end
            }
            throw e.getCause();
        }
        ByteBuffer buf = ByteBuffer.wrap(page);
        long at = (b % WalGeometry.RELSEG_SIZE) * WalGeometry.BLCKSZ;
        while (buf.hasRemaining()) {
            int n = ch.read(buf, at + buf.position());
            if (n < 0) {
                break; // past the end: the rest stays zero
            }
        }
        return page;
    }

    @Override
    public void close() throws IOException {
        for (FileChannel c : open.values()) {
            c.close();
        }
    }
}
