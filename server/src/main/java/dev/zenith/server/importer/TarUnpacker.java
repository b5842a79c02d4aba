package dev.zenith.server.importer;

import dev.zenith.server.domain.InvalidRequestException;
import dev.zenith.storage.image.StreamedPages;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Writes a tar stream (a base backup's) into a directory as it arrives, so nothing holds the whole archive.
 * Only plain files and directories inside the target are accepted: an absolute name, a {@code ..}, a link
 * or a device is refused (a base backup has none; a tablespace's link means tablespaces, which an import
 * does not take). Relation files' pages may also go to a store as they are written ({@link StreamedPages}).
 */
final class TarUnpacker {
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
        StagedFiles files = new StagedFiles(dir, streamed);
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
                    written += files.write(tar, target, files.relPath(target));
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
}
