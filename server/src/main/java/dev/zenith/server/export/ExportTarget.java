package dev.zenith.server.export;

import dev.zenith.pgexec.FileTrees;
import dev.zenith.server.domain.ConflictException;
import dev.zenith.server.domain.InvalidRequestException;

import java.io.IOException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Map;
import java.util.UUID;
import java.util.stream.Stream;

/**
 * Where an export goes. The daemon writes it, so a path is refused unless it is absolute, new (or an empty
 * directory, for the directory formats) and outside the daemon's own state (ZENITH_HOME, the computes'
 * directories, every storage), compared by real path. The export is written beside it under a hidden
 * temporary name and renamed into place only when complete: a failed export leaves nothing behind.
 */
final class ExportTarget {
    private final Path target;
    private final Path temporary;
    private final boolean replaceEmptyDirectory;

    private ExportTarget(Path target, Path temporary, boolean replaceEmptyDirectory) {
        this.target = target;
        this.temporary = temporary;
        this.replaceEmptyDirectory = replaceEmptyDirectory;
    }

    /** {@code forbidden}: what may not hold the target, by what it is ("ZENITH_HOME", "storage 'local'"...). */
    static ExportTarget check(Path target, ExportFormat format, Map<String, Path> forbidden) throws IOException {
        if (!target.isAbsolute()) {
            throw new InvalidRequestException("the export target must be an absolute path, got '" + target + "'");
        }
        target = target.normalize();
        if (target.getParent() == null || target.getFileName() == null) {
            throw new InvalidRequestException("the export target must name a file or directory, got '" + target + "'");
        }
        Path parent = target.getParent();
        if (!Files.isDirectory(parent)) {
            throw new InvalidRequestException("the export target's directory " + parent + " does not exist");
        }
        Path realParent = FileTrees.realPath(parent);
        Path real = realParent.resolve(target.getFileName());
        for (Map.Entry<String, Path> f : forbidden.entrySet()) {
            Path p = FileTrees.realPath(f.getValue());
            if (real.startsWith(p) || p.startsWith(real)) {
                throw new ConflictException("the export target " + target + " is " + (real.startsWith(p) ? "inside" : "around")
                        + " " + f.getKey() + " at " + f.getValue() + "; export somewhere else");
            }
        }
        boolean emptyDirectory = false;
        if (Files.exists(target, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
            if (!format.isDirectory() || !Files.isDirectory(target, java.nio.file.LinkOption.NOFOLLOW_LINKS) || !isEmpty(target)) {
                throw new ConflictException("the export target " + target + " exists" + (format.isDirectory()
                        ? " and is not an empty directory" : "") + "; give a new path");
            }
            emptyDirectory = true;
        }
        Path temporary = realParent.resolve("." + target.getFileName() + ".zenith-export-" + UUID.randomUUID());
        return new ExportTarget(real, temporary, emptyDirectory);
    }

    private static boolean isEmpty(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.findAny().isEmpty();
        }
    }

    Path target() {
        return target;
    }

    /** Where the export is written until {@link #commit}: a directory to fill or a file to create. */
    Path temporary() {
        return temporary;
    }

    /**
     * Puts the finished export in place, atomically and never over something that appeared meanwhile: a
     * file by a hard link (which fails on an existing name, where rename would replace it), a directory by
     * rename (which fails on a non-empty one).
     */
    void commit() throws IOException {
        if (replaceEmptyDirectory) {
            try {
                Files.delete(target);
            } catch (DirectoryNotEmptyException e) {
                throw appeared("is no longer empty");
            }
        } else if (Files.exists(target, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
            throw appeared("appeared while exporting");
        }
        if (Files.isRegularFile(temporary, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
            try {
                Files.createLink(target, temporary);
                Files.delete(temporary);
                return;
            } catch (FileAlreadyExistsException e) {
                throw appeared("appeared while exporting");
            } catch (UnsupportedOperationException | IOException e) {
                // a file system without hard links: the rename below
            }
        }
        try {
            Files.move(temporary, target, StandardCopyOption.ATOMIC_MOVE);
        } catch (DirectoryNotEmptyException | FileAlreadyExistsException e) {
            throw appeared("appeared while exporting");
        }
    }

    private ConflictException appeared(String what) {
        return new ConflictException("the export target " + target + " " + what + "; the export was not kept");
    }

    /** Removes whatever a failed export wrote. */
    void discard() throws IOException {
        FileTrees.delete(temporary);
    }
}
