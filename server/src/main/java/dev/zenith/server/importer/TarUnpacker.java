package dev.zenith.server.importer;

import dev.zenith.server.domain.InvalidRequestException;
import dev.zenith.storage.image.StreamedPages;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;

import java.io.IOException;
import java.io.InputStream;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * Writes a tar stream (a base backup's) into a directory as it arrives, so nothing holds the whole archive.
 * Only plain files and directories inside the target are accepted: an absolute name, a {@code ..}, a link
 * or a device is refused (a base backup has none; a tablespace's link means tablespaces, which an import
 * does not take). Relation files' pages may also go to a store as they are written ({@link StreamedPages}).
 */
final class TarUnpacker {
    private static final int BUFFER = StreamedPages.BUFFER_BYTES;

    private TarUnpacker() {
    }

    /** Unpacks {@code in} under {@code dir}; returns the bytes of the files unpacked. */
    static long unpack(InputStream in, Path dir, String what) throws IOException {
        return unpack(in, dir, what, null);
    }

    /**
     * As above, also giving {@code streamed} (may be null) the pages of each relation file; pieces it may leave out
     * ({@link StreamedPages#mayLeaveOut}) are holes in the files until it writes them back.
     */
    static long unpack(InputStream in, Path dir, String what, StreamedPages streamed) throws IOException {
        long written = 0;
        byte[] buffer = new byte[BUFFER];
        byte[] spare = null;
        try (TarArchiveInputStream tar = new TarArchiveInputStream(in)) {
            for (TarArchiveEntry e = tar.getNextEntry(); e != null; e = tar.getNextEntry()) {
                Path target = dir.resolve(e.getName()).normalize();
                if (e.getName().startsWith("/") || !target.startsWith(dir) || target.equals(dir) && !e.isDirectory()) {
                    throw new InvalidRequestException(what + " has an entry outside its directory: '" + e.getName() + "'");
                }
                if (e.isSymbolicLink() && e.getName().startsWith("pg_tblspc/")) {
                    throw new InvalidRequestException(what + " has a tablespace (" + e.getName() + " -> " + e.getLinkName()
                            + "); an import takes clusters without tablespaces");
                }
                if (e.isDirectory()) {
                    Files.createDirectories(target);
                } else if (e.isFile()) {
                    Files.createDirectories(target.getParent());
                    String relPath = dir.relativize(target).toString().replace('\\', '/');
                    boolean pages = streamed != null && StreamedPages.isRelationFile(relPath);
                    try (FileChannel out = FileChannel.open(target, StandardOpenOption.CREATE_NEW,
                            StandardOpenOption.WRITE)) {
                        long offset = 0;
                        // a relation file in whole buffers (so whole pages), each handed to the store once written
                        // (the store's buffers: none copied), or left out of the file when PostgreSQL may not need it
                        // (a hole, written back if it does); others as they come
                        while (true) {
                            byte[] b = buffer;
                            if (pages) {
                                b = spare != null ? spare : streamed.buffer();
                                spare = null;
                            }
                            int n = read(tar, b, pages);
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
                        written += offset;
                        if (out.size() < offset) {
                            extend(target, offset); // it ends with a piece left out
                        }
                    }
                    if (pages) {
                        streamed.fileWritten(relPath, target);
                    }
                } else {
                    throw new InvalidRequestException(what + " has an entry that is neither a file nor a directory: '"
                            + e.getName() + "'");
                }
            }
        } catch (java.nio.file.FileSystemException e) {
            throw e; // writing the staging directory failed (a full disk...): ours, not the source's
        } catch (IOException e) {
            throw new InvalidRequestException(what + " cannot be read as a tar archive: " + e.getMessage());
        }
        return written;
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

    /** The next bytes of the entry: a full buffer (less only at its end) when {@code whole}; 0 or -1 at its end. */
    private static int read(InputStream tar, byte[] buffer, boolean whole) throws IOException {
        return whole ? tar.readNBytes(buffer, 0, buffer.length) : tar.read(buffer);
    }
}
