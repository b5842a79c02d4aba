package dev.zenith.server.redo;

import dev.zenith.pgexec.FileTrees;
import dev.zenith.pgexec.PgInstallation;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.UUID;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The directory redo runs build their scratch data directories in. Everything there is throwaway:
 * opening the area (at daemon start) stops any postmaster a killed daemon left running there and
 * deletes every run directory, so a run cut short is simply redone. Only entries named like run
 * directories are touched, whatever else the directory holds.
 */
public final class ScratchArea {
    private static final Logger LOG = Logger.getLogger(ScratchArea.class.getName());
    private static final String PREFIX = "run-";
    /** sun_path holds 108 bytes; the socket is DIR/.s.PGSQL.5432. */
    private static final int MAX_SOCKET_DIR = 107 - ".s.PGSQL.5432".length() - 1;

    private final Path root;
    private final PgInstallation pg;
    /** Where finished runs are removed: the caller's thread unless {@link #removeFinishedOn} gave another. */
    private volatile Executor removals = Runnable::run;

    private ScratchArea(Path root, PgInstallation pg) {
        this.root = root;
        this.pg = pg;
    }

    /** Opens (creating) the area and clears what earlier runs left. Blocking. */
    public static ScratchArea open(Path root, PgInstallation pg) throws IOException {
        Files.createDirectories(root);
        Files.setPosixFilePermissions(root, PosixFilePermissions.fromString("rwxr-xr-x"));
        pg.checkReachable(root);
        ScratchArea area = new ScratchArea(root.toAbsolutePath(), pg);
        area.clearLeftovers();
        return area;
    }

    public Path root() {
        return root;
    }

    /** Run directories left by runs that did not finish (a crash, a kill -9). */
    public int clearLeftovers() throws IOException {
        int cleared = 0;
        try (DirectoryStream<Path> runs = Files.newDirectoryStream(root, PREFIX + "*")) {
            for (Path run : runs) {
                remove(run);
                cleared++;
            }
        }
        if (cleared > 0) {
            LOG.info("removed " + cleared + " unfinished redo run director" + (cleared == 1 ? "y" : "ies") + " in " + root);
        }
        return cleared;
    }

    /** A new, empty run directory the PostgreSQL user owns. */
    Path create() throws IOException {
        Path run = root.resolve(PREFIX + UUID.randomUUID());
        Files.createDirectory(run, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        pg.handOver(run);
        return run;
    }

    /**
     * Where the run's postmaster puts its Unix socket: the run directory itself when its path is short
     * enough for a socket, else a fresh private directory under /tmp (removed with the run).
     */
    Path socketDirectory(Path run) throws IOException {
        if (run.toString().length() <= MAX_SOCKET_DIR) {
            return run;
        }
        Path dir = Files.createTempDirectory(Path.of("/tmp"), "zenith-redo-",
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        pg.handOver(dir);
        Files.writeString(run.resolve("socket-dir"), dir.toString());
        return dir;
    }

    /**
     * Finished runs are removed on {@code executor}: the run's postmaster exits (after an immediate shutdown) and its
     * directory is deleted after the run's pages were answered, not before.
     */
    void removeFinishedOn(Executor executor) {
        this.removals = executor;
    }

    /** Removes a run that ended ({@link #remove}), where {@link #removeFinishedOn} says; a failure is logged. */
    void removeFinished(Path run) {
        Runnable removal = () -> {
            try {
                remove(run);
            } catch (IOException | RuntimeException e) {
                LOG.log(Level.WARNING, "removing the redo run directory " + run + " failed (the next start removes it)", e);
            }
        };
        try {
            removals.execute(removal);
        } catch (RejectedExecutionException e) {
            removal.run(); // the daemon stops: removed here
        }
    }

    /** Stops anything left on the run and deletes it (and its socket directory). */
    void remove(Path run) throws IOException {
        RecoveryServer.stopPostmaster(run.resolve("data"));
        Path socketNote = run.resolve("socket-dir");
        if (Files.exists(socketNote)) {
            FileTrees.delete(Path.of(Files.readString(socketNote).trim()));
        }
        FileTrees.delete(run);
    }
}
