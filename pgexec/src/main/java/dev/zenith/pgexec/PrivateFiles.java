package dev.zenith.pgexec;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Set;

/**
 * Directories and files other local users must not read: zenith's home, storages, secrets. Directories
 * are 0700, files 0600 from the moment they exist (never created open and tightened afterwards), and a
 * directory is never made inside one that another (unprivileged) user owns, who could swap it for a
 * symbolic link or read what is put there.
 */
public final class PrivateFiles {
    public static final Set<PosixFilePermission> DIRECTORY = PosixFilePermissions.fromString("rwx------");
    public static final Set<PosixFilePermission> FILE = PosixFilePermissions.fromString("rw-------");

    private PrivateFiles() {
    }

    /**
     * Makes {@code dir} (and missing parents) exist with mode 0700. An existing one of this process's user is
     * tightened to 0700, unless it is a shared directory (sticky bit, like /tmp). Refused: a directory owned
     * by another user than this process's, or one whose nearest existing ancestor is.
     */
    public static Path directory(Path dir) throws IOException {
        checkCreatableHere(dir);
        if (Files.isDirectory(dir)) {
            PosixFileAttributes a = attributes(dir);
            if (a.owner().getName().equals(currentUser()) && !isSticky(dir)) {
                Files.setPosixFilePermissions(dir, DIRECTORY);
            }
            return dir;
        }
        Path parent = dir.toAbsolutePath().getParent();
        if (parent != null && !Files.isDirectory(parent)) {
            Files.createDirectories(parent);
        }
        try {
            Files.createDirectory(dir, PosixFilePermissions.asFileAttribute(DIRECTORY));
        } catch (FileAlreadyExistsException raced) {
            return directory(dir);
        }
        Files.setPosixFilePermissions(dir, DIRECTORY); // the umask may have taken bits off; never added any
        return dir;
    }

    /**
     * Refuses {@code dir} when it, or (when it does not exist yet) its nearest existing ancestor, belongs to
     * another user than this process's. Root's directories are fine as ancestors (/, /tmp, /var/lib): only
     * root could tamper with them.
     */
    public static void checkCreatableHere(Path dir) throws IOException {
        Path p = dir.toAbsolutePath().normalize();
        String me = currentUser();
        if (Files.exists(p)) {
            String owner = Files.getOwner(p).getName();
            if (!owner.equals(me)) {
                throw new NotOursException(p + " belongs to user '" + owner + "', not to '" + me
                        + "' who runs zenith; zenith keeps its data in directories of its own user");
            }
            return;
        }
        Path ancestor = p.getParent();
        while (ancestor != null && !Files.exists(ancestor)) {
            ancestor = ancestor.getParent();
        }
        if (ancestor == null) {
            return;
        }
        String owner = Files.getOwner(ancestor).getName();
        if (!owner.equals(me) && !owner.equals("root")) {
            throw new NotOursException("cannot create " + p + " inside " + ancestor + ", which belongs to user '" + owner
                    + "' (zenith runs as '" + me + "'): that user could read or replace what zenith puts there");
        }
    }

    /** A path that another user owns, or that would be made inside a directory another user owns. */
    public static final class NotOursException extends IOException {
        public NotOursException(String message) {
            super(message);
        }
    }

    /** Writes {@code text} to {@code file} atomically, mode 0600 from the start (a temporary file, then a rename). */
    public static void write(Path file, String text) throws IOException {
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        Files.deleteIfExists(tmp);
        Files.createFile(tmp, PosixFilePermissions.asFileAttribute(FILE));
        Files.writeString(tmp, text, StandardCharsets.UTF_8);
        Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    /** Makes an existing file 0600 (a log file created by someone else's umask). */
    public static void restrict(Path file) throws IOException {
        Files.setPosixFilePermissions(file, FILE);
    }

    /** The first line of a file (a secret), trimmed; empty for an empty file. */
    public static String firstLine(Path file) throws IOException {
        List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        return lines.isEmpty() ? "" : lines.get(0).trim();
    }

    public static String currentUser() {
        return System.getProperty("user.name");
    }

    private static boolean isSticky(Path dir) throws IOException {
        Object mode = Files.getAttribute(dir, "unix:mode", LinkOption.NOFOLLOW_LINKS);
        return mode instanceof Integer m && (m & 01000) != 0;
    }

    private static PosixFileAttributes attributes(Path p) throws IOException {
        return Files.readAttributes(p, PosixFileAttributes.class);
    }
}
