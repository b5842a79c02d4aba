package dev.zenith.server.basebackup;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Arrays;
import java.util.List;

/**
 * Reads a list of files and directories as a ustar stream (the format PostgreSQL's basebackup sends
 * and pg_basebackup parses), chunk by chunk so the caller can respect backpressure between chunks.
 * Checksums every file it sends for the manifest. Blocking: call from a worker thread, one at a time.
 */
public final class TarArchiveReader implements AutoCloseable {
    private static final int BLOCK = 512;

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
                writeHeader(current, out, n);
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
                n += padding(current.size()); // zero-filled already
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

    private static int padding(long size) {
        int r = (int) (size % BLOCK);
        return r == 0 ? 0 : BLOCK - r;
    }

    private static void writeHeader(Entry e, byte[] out, int at) {
        String name = e.directory() ? e.path() + "/" : e.path();
        byte[] nameBytes = name.getBytes(StandardCharsets.UTF_8);
        if (nameBytes.length > 99) {
            throw new UncheckedIOException(new IOException("file name too long for tar format: \"" + name + "\""));
        }
        System.arraycopy(nameBytes, 0, out, at, nameBytes.length);
        octal(out, at + 100, 8, e.directory() ? 0700 : 0600);
        octal(out, at + 108, 8, 0);
        octal(out, at + 116, 8, 0);
        octal(out, at + 124, 12, e.directory() ? 0 : e.size());
        octal(out, at + 136, 12, e.modified().getEpochSecond());
        Arrays.fill(out, at + 148, at + 156, (byte) ' ');
        out[at + 156] = (byte) (e.directory() ? '5' : '0');
        ascii(out, at + 257, "ustar");
        ascii(out, at + 263, "00");
        ascii(out, at + 265, "postgres");
        ascii(out, at + 297, "postgres");
        int sum = 0;
        for (int i = 0; i < BLOCK; i++) {
            sum += out[at + i] & 0xff;
        }
        octal(out, at + 148, 8, sum);
    }

    /** Zero-padded octal digits, NUL-terminated, filling {@code len} bytes. */
    private static void octal(byte[] out, int at, int len, long value) {
        String digits = Long.toOctalString(value);
        if (digits.length() > len - 1) {
            throw new IllegalArgumentException("value " + value + " too large for a tar field of " + len);
        }
        String padded = "0".repeat(len - 1 - digits.length()) + digits;
        ascii(out, at, padded);
        out[at + len - 1] = 0;
    }

    private static void ascii(byte[] out, int at, String s) {
        byte[] b = s.getBytes(StandardCharsets.US_ASCII);
        System.arraycopy(b, 0, out, at, b.length);
    }

    @Override
    public void close() throws IOException {
        if (in != null) {
            in.close();
        }
    }
}
