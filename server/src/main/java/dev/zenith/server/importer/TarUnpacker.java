package dev.zenith.server.importer;

import dev.zenith.server.domain.InvalidRequestException;
import dev.zenith.storage.image.StreamedPages;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
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

    /** Unpacks {@code in} under {@code dir}; returns the bytes of file contents written. */
    static long unpack(InputStream in, Path dir, String what) throws IOException {
        return unpack(in, dir, what, null);
    }

    /** As above, also giving {@code streamed} (may be null) the pages of each relation file. */
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
                    try (OutputStream out = Files.newOutputStream(target, StandardOpenOption.CREATE_NEW,
                            StandardOpenOption.WRITE)) {
                        long offset = 0;
                        // a relation file in whole buffers (so whole pages), each handed to the store once written
                        // (the store's buffers: none copied); others as they come
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
                            out.write(b, 0, n);
                            if (pages) {
                                streamed.pages(relPath, offset, b, n);
                            }
                            offset += n;
                        }
                        written += offset;
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

    /** The next bytes of the entry: a full buffer (less only at its end) when {@code whole}; 0 or -1 at its end. */
    private static int read(InputStream tar, byte[] buffer, boolean whole) throws IOException {
        return whole ? tar.readNBytes(buffer, 0, buffer.length) : tar.read(buffer);
    }
}
