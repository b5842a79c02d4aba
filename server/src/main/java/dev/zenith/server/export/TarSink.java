package dev.zenith.server.export;

import com.github.luben.zstd.ZstdOutputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;

import java.io.BufferedOutputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.concurrent.TimeUnit;

/**
 * A base backup as one tar (optionally zstd-compressed): members named as in the data directory, so
 * {@code tar -xf} gives the directory, WAL and backup_manifest included. POSIX (pax) headers for long names.
 */
final class TarSink implements BackupSink {
    private final Path path;
    private final FileOutputStream file;
    private final TarArchiveOutputStream tar;
    private boolean finished;

    TarSink(Path path, boolean zstd) throws IOException {
        this.path = path;
        // 0600 as the data directory's files are: it holds the cluster's password hashes
        Files.createFile(path, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        file = new FileOutputStream(path.toFile());
        OutputStream out = new BufferedOutputStream(file, 1 << 20);
        if (zstd) {
            out = new ZstdOutputStream(out, 3);
        }
        tar = new TarArchiveOutputStream(out);
        tar.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
        tar.setBigNumberMode(TarArchiveOutputStream.BIGNUMBER_POSIX);
    }

    @Override
    public void directory(String path, Instant modified) throws IOException {
        TarArchiveEntry e = new TarArchiveEntry(path + "/");
        e.setMode(040700);
        e.setModTime(wholeSeconds(modified));
        tar.putArchiveEntry(e);
        tar.closeArchiveEntry();
    }

    @Override
    public OutputStream file(String path, long size, Instant modified) throws IOException {
        TarArchiveEntry e = new TarArchiveEntry(path);
        e.setMode(0100600);
        e.setSize(size);
        e.setModTime(wholeSeconds(modified));
        tar.putArchiveEntry(e);
        return new OutputStream() {
            @Override
            public void write(int b) throws IOException {
                tar.write(b);
            }

            @Override
            public void write(byte[] b, int off, int len) throws IOException {
                tar.write(b, off, len);
            }

            @Override
            public void close() throws IOException {
                tar.closeArchiveEntry();
            }
        };
    }

    /**
     * A time in whole seconds, as the manifest lists it and ustar headers hold it: a fraction would cost a pax
     * header (two more 512-byte blocks and decimal formatting) per member.
     */
    private static FileTime wholeSeconds(Instant t) {
        return FileTime.from(t.getEpochSecond(), TimeUnit.SECONDS);
    }

    @Override
    public void finish() throws IOException {
        finished = true;
        tar.close(); // the tar's end, then the zstd frame's
        try (FileChannel c = FileChannel.open(path, StandardOpenOption.WRITE)) {
            c.force(true);
        }
    }

    /** After a failure: the file is let go of as it is (it is deleted), without finishing the archive. */
    @Override
    public void close() throws IOException {
        if (!finished) {
            file.close();
        }
    }
}
