package dev.zenith.server.remote;

import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;

/**
 * An image's small files travel in packs: a tar of files of at most {@link #SMALL_FILE} bytes, taken in path order
 * until the pack holds {@link #PACK_BYTES}, each entry written the same way every time (no times, owners or modes), so
 * the same files make the same blob in every push. A data directory holds about a thousand small files (catalogues,
 * maps, SLRU segments): one object each cost a HEAD and a PUT per file on push and a GET on pull, most of the time of
 * either. File I/O only.
 */
final class ImagePacks {
    /** The label of a pack's manifest entry (kind "image"); its value is the pack's format. */
    static final String LABEL = "packed";
    static final String TAR = "tar";
    static final long SMALL_FILE = 128 << 10;
    /** A pack stays within what the uploader reads into memory whole. */
    static final long PACK_BYTES = 960 << 10;

    private ImagePacks() {
    }

    /** The small ones of {@code files} (sorted), in packs; larger files are left out. */
    static List<List<Path>> group(List<Path> files) throws IOException {
        List<List<Path>> packs = new ArrayList<>();
        List<Path> pack = new ArrayList<>();
        long bytes = 0;
        for (Path f : files) {
            long size = Files.size(f);
            if (size > SMALL_FILE) {
                continue;
            }
            if (!pack.isEmpty() && bytes + size + 512 > PACK_BYTES) {
                packs.add(pack);
                pack = new ArrayList<>();
                bytes = 0;
            }
            pack.add(f);
            bytes += size + 1024; // a header and at most a block of padding per file
        }
        if (!pack.isEmpty()) {
            packs.add(pack);
        }
        return packs;
    }

    /** The pack of {@code files}, named by their paths below {@code root}. */
    static byte[] pack(Path root, List<Path> files) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (TarArchiveOutputStream tar = new TarArchiveOutputStream(out)) {
            tar.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
            for (Path f : files) {
                byte[] content = Files.readAllBytes(f);
                TarArchiveEntry e = new TarArchiveEntry(root.relativize(f).toString(), true);
                e.setSize(content.length);
                e.setModTime(new Date(0));
                e.setMode(0100600);
                e.setUserName("");
                e.setGroupName("");
                tar.putArchiveEntry(e);
                tar.write(content);
                tar.closeArchiveEntry();
            }
        }
        return out.toByteArray();
    }

    /** Writes the files of the pack {@code in} below {@code dir}; a name that would leave it is refused. */
    static void unpack(InputStream in, Path dir) throws IOException {
        try (TarArchiveInputStream tar = new TarArchiveInputStream(in)) {
            for (TarArchiveEntry e = tar.getNextEntry(); e != null; e = tar.getNextEntry()) {
                if (!e.isFile()) {
                    throw new IOException("a pack of the snapshot holds " + e.getName() + ", not a file");
                }
                Path target = PulledSnapshot.inside(dir, e.getName());
                Files.createDirectories(target.getParent());
                Files.copy(tar, target);
            }
        }
    }
}
