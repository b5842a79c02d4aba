package dev.zenith.server.export;

import com.github.luben.zstd.ZstdOutputStream;
import dev.zenith.server.basebackup.TarHeader;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;

/**
 * A base backup as one tar (optionally zstd-compressed): members named as in the data directory, so
 * {@code tar -xf} gives the directory, WAL and backup_manifest included. ustar headers as PostgreSQL writes
 * them, a pax header before a name too long for ustar; times in whole seconds, as the manifest lists them.
 */
final class TarSink implements BackupSink {
    private static final byte[] PADDING = new byte[TarHeader.BLOCK];
    /** The end of an archive: two zero blocks. */
    private static final byte[] TRAILER = new byte[2 * TarHeader.BLOCK];

    private final Path path;
    private final DirectFileOutput file;
    /** The tar's bytes: the file, or a zstd frame into it. */
    private final OutputStream tar;
    private boolean finished;

    TarSink(Path path, boolean zstd) throws IOException {
        this.path = path;
        // 0600 as the data directory's files are: it holds the cluster's password hashes
        Files.createFile(path, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        file = new DirectFileOutput(FileChannel.open(path, StandardOpenOption.WRITE));
        tar = zstd ? new ZstdOutputStream(file, 3) : file;
    }

    @Override
    public void directory(String path, Instant modified) throws IOException {
        tar.write(TarHeader.withLongNames(path, true, 0, modified.getEpochSecond()));
    }

    @Override
    public OutputStream file(String path, long size, Instant modified) throws IOException {
        tar.write(TarHeader.withLongNames(path, false, size, modified.getEpochSecond()));
        return new OutputStream() {
            private long written;

            @Override
            public void write(int b) throws IOException {
                write(new byte[] {(byte) b}, 0, 1);
            }

            @Override
            public void write(byte[] b, int off, int len) throws IOException {
                if (written + len > size) {
                    throw new IOException(path + " is longer than the " + size + " bytes its header says");
                }
                tar.write(b, off, len);
                written += len;
            }

            @Override
            public void close() throws IOException {
                if (written != size) {
                    throw new IOException(path + " has " + written + " of the " + size + " bytes its header says");
                }
                tar.write(PADDING, 0, TarHeader.padding(size));
            }
        };
    }

    @Override
    public void finish() throws IOException {
        finished = true;
        tar.write(TRAILER);
        tar.close(); // the zstd frame's end, if any; the file's buffer flushed, the file closed
        try (FileChannel c = FileChannel.open(path, StandardOpenOption.WRITE)) {
            c.force(true);
        }
    }

    /** After a failure: the file is let go of as it is (it is deleted), without finishing the archive. */
    @Override
    public void close() throws IOException {
        if (!finished) {
            file.abandon();
        }
    }
}
