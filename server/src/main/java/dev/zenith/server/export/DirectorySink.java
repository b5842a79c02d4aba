package dev.zenith.server.export;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/**
 * A base backup as a plain data directory, with the modes PostgreSQL insists on (0700 directories, 0600
 * files). Every file is fsynced before the export is renamed into place.
 */
final class DirectorySink implements BackupSink {
    private final Path root;
    private final List<Path> written = new ArrayList<>();

    DirectorySink(Path root) throws IOException {
        this.root = root;
        Files.createDirectory(root, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
    }

    @Override
    public void directory(String path, Instant modified) throws IOException {
        Path dir = resolve(path);
        Files.createDirectories(dir);
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx------"));
    }

    @Override
    public OutputStream file(String path, long size, Instant modified) throws IOException {
        Path file = resolve(path);
        Files.createDirectories(file.getParent());
        OutputStream out = Files.newOutputStream(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
        written.add(file);
        return new java.io.FilterOutputStream(out) {
            @Override
            public void write(byte[] b, int off, int len) throws IOException {
                out.write(b, off, len);
            }

            @Override
            public void close() throws IOException {
                super.close();
                Files.setLastModifiedTime(file, FileTime.from(modified));
            }
        };
    }

    /** A member's path, which must stay inside the directory. */
    private Path resolve(String path) throws IOException {
        Path p = root.resolve(path).normalize();
        if (!p.startsWith(root) || p.equals(root)) {
            throw new IOException("backup member '" + path + "' lies outside the data directory");
        }
        return p;
    }

    @Override
    public void finish() throws IOException {
        for (Path p : written) {
            try (FileChannel c = FileChannel.open(p, StandardOpenOption.WRITE)) {
                c.force(true);
            }
        }
    }

    @Override
    public void close() {
    }
}
