package dev.zenith.server.importer;

import dev.zenith.storage.image.StreamedPages;

import java.io.IOException;
import java.io.InputStream;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * Writes the files of a source (a tar's entries, a stopped cluster's files) into the staging directory as they
 * are read, each relation file's pages also handed to the new store ({@link StreamedPages}, when there is one)
 * in whole buffers, and left out of the staged file (a hole) where the store may keep them ({@link
 * StreamedPages#mayLeaveOut}: written back if PostgreSQL reads them). One source's files, on one thread.
 */
final class StagedFiles {
    private final Path dir;
    private final StreamedPages streamed;
    private final byte[] buffer = new byte[StreamedPages.BUFFER_BYTES];
    /** A store buffer the last relation file did not fill: the next one's first. */
    private byte[] spare;

    /** Files under {@code dir}; {@code streamed}: where relation pages go, or null. */
    StagedFiles(Path dir, StreamedPages streamed) {
        this.dir = dir;
        this.streamed = streamed;
    }

    /** Whether the file at {@code relPath} (relative to the directory, '/'-separated) goes to the store too. */
    boolean streams(String relPath) {
        return streamed != null && StreamedPages.isRelationFile(relPath);
    }

    /** Writes the new file {@code target} (under the directory, at {@code relPath}) from {@code in}; returns its bytes. */
    long write(InputStream in, Path target, String relPath) throws IOException {
        boolean pages = streams(relPath);
        if (streamed != null && relPath.startsWith("pg_wal/")) {
            streamed.storeQueued(); // a base backup's WAL comes after its relation files: they are stored meanwhile
        }
        long offset = 0;
        try (FileChannel out = FileChannel.open(target, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            // a relation file in whole buffers (so whole pages), each handed to the store once written (the
            // store's buffers: none copied), or left out of the file when PostgreSQL may not need it; others as they come
            while (true) {
                byte[] b = buffer;
                if (pages) {
                    b = spare != null ? spare : streamed.buffer();
                    spare = null;
                }
                int n = pages ? in.readNBytes(b, 0, b.length) : in.read(b);
                if (n <= 0) {
                    spare = pages ? b : null; // unused: the next relation file's
                    break;
                }
                boolean leftOut = pages && streamed.mayLeaveOut(relPath);
                if (!leftOut) {
                    write(out, b, n, offset);
                }
                if (pages) {
                    streamed.pages(relPath, offset, b, n, leftOut);
                }
                offset += n;
            }
            if (out.size() < offset) {
                extend(target, offset); // it ends with a piece left out
            }
        }
        if (pages) {
            streamed.fileWritten(relPath, target);
        }
        return offset;
    }

    private static void write(FileChannel out, byte[] b, int n, long position) throws IOException {
        ByteBuffer buf = ByteBuffer.wrap(b, 0, n);
        while (buf.hasRemaining()) {
            out.write(buf, position + buf.position());
        }
    }

    /** Gives {@code file} its length, the end a hole. */
    private static void extend(Path file, long length) throws IOException {
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            f.setLength(length);
        }
    }

    /** The directory's path of {@code target} ('/'-separated), as the store names relation files. */
    String relPath(Path target) {
        return dir.relativize(target).toString().replace('\\', '/');
    }
}
