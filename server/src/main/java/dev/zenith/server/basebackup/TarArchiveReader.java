package dev.zenith.server.basebackup;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.time.Instant;
import java.util.List;

/**
 * Reads a list of files and directories as a ustar stream (the format PostgreSQL's basebackup sends
 * and pg_basebackup parses), chunk by chunk so the caller can respect backpressure between chunks.
 * Checksums every file it sends for the manifest. Blocking: call from a worker thread, one at a time.
 */
public final class TarArchiveReader implements AutoCloseable {
    private static final int BLOCK = TarHeader.BLOCK;

    /** Where a member's bytes come from, opened only when the archive reaches it. */
    @FunctionalInterface
    public interface Source {
        InputStream open() throws IOException;
    }

    /**
     * One archive member; {@code path} relative, '/'-separated; {@code source} null for a directory;
     * {@code inManifest} false for pg_wal content.
     */
    public record Entry(String path, Source source, boolean directory, long size, Instant modified, boolean inManifest) {
        public static Entry directory(String path, Instant modified) {
            return new Entry(path, null, true, 0, modified, true);
        }

        public static Entry file(String path, Source source, long size, Instant modified, boolean inManifest) {
            return new Entry(path, source, false, size, modified, inManifest);
        }
    }

    private final List<Entry> entries;
    private final ManifestChecksum checksum;
    private final BackupManifest manifest;
    private int next;
    private Entry current;
    private InputStream in;
    private long remaining;
    private boolean trailerSent;
    private long bytesRead;

    public TarArchiveReader(List<Entry> entries, ManifestChecksum checksum, BackupManifest manifest) {
        this.entries = List.copyOf(entries);
        this.checksum = checksum;
        this.manifest = manifest;
    }

    /** Tar bytes sent so far (for progress reports). */
    public long bytesRead() {
        return bytesRead;
    }

    /**
     * Up to about {@code max} bytes of the archive, in a fresh array the caller may keep; null once the
     * archive (with its trailer) is complete.
     */
    public ByteBuffer nextChunk(int max) throws IOException {
        if (trailerSent) {
            return null;
        }
        byte[] out = new byte[max + 2 * BLOCK];
        int n = 0;
        while (n < max) {
            if (current == null) {
                if (next == entries.size()) {
                    n += 2 * BLOCK; // end of archive: two zero blocks
                    trailerSent = true;
                    break;
                }
                current = entries.get(next++);
                TarHeader.ustar(out, n, current.path(), current.directory(), current.size(), current.modified().getEpochSecond());
                n += BLOCK;
                if (current.directory()) {
                    current = null;
                    continue;
                }
                in = current.source().open();
                remaining = current.size();
            }
            int want = (int) Math.min(remaining, Math.max(0, max - n));
            int got = want == 0 ? 0 : in.readNBytes(out, n, want);
            if (got < want) {
                throw new IOException(current.path() + " is shorter than the " + current.size() + " bytes listed");
            }
            checksum.update(out, n, got);
            n += got;
            remaining -= got;
            if (remaining == 0) {
                n += TarHeader.padding(current.size()); // zero-filled already
                finishFile();
            }
        }
        bytesRead += n;
        return ByteBuffer.wrap(out, 0, n);
    }

    private void finishFile() throws IOException {
        in.close();
        in = null;
        String sum = checksum.finishHex();
        if (current.inManifest()) {
            manifest.addFile(current.path(), current.size(), current.modified(), checksum.manifestName(), sum);
        }
        current = null;
    }

    @Override
    public void close() throws IOException {
        if (in != null) {
            in.close();
        }
    }
}
