package dev.zenith.server.anchor;

import dev.zenith.wal.Lsn;
import dev.zenith.wal.bytes.LittleEndian;
import dev.zenith.wal.control.ControlFile;
import dev.zenith.wal.control.DbState;
import dev.zenith.wal.rmgr.CheckPoint;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.zip.CRC32C;

/**
 * Takes an anchor from a running primary's data directory once the daemon has received one of its
 * checkpoint records. Blocking (file reads, short sleeps): call from a worker.
 *
 * <p>Why the files it takes belong to that checkpoint C (record at L, redo point R):
 * <ul>
 *   <li>PostgreSQL's CreateCheckPoint flushes every SLRU page (CheckPointGuts) before it inserts
 *       C's record, and rewrites pg_control to name C only after that record is flushed. So the
 *       SLRU files are at least as new as R from the moment pg_control names C. pg_control is read
 *       first, the SLRUs after: whatever the primary wrote in between only makes them newer, which
 *       is what crash recovery always meets (a torn read of a status page mixes two versions that
 *       are both at least as new as R: status bits only ever move from in progress to final).</li>
 *   <li>pg_control must parse with a valid CRC (a torn read of it is retried), name exactly L,
 *       and carry the very CheckPoint struct the streamed record holds. If it still names an older
 *       checkpoint, the primary has not updated it yet: wait. If it names a newer one, C is
 *       superseded and that one will be captured when its record arrives.</li>
 *   <li>Files a concurrent truncation removes (old CLOG segments, two-phase files of finished
 *       transactions) are older than anything replay from R needs, and are skipped. A two-phase
 *       file caught while a later checkpoint rewrites it is read again until its CRC holds.</li>
 *   <li>{@link Anchor#of} then checks the status files reach C's newest transaction and multixact.</li>
 * </ul>
 */
public final class AnchorCapture {
    private static final long POLL_MILLIS = 10;

    private AnchorCapture() {
    }

    /**
     * @param pgdata      the running primary's data directory
     * @param recordLsn   where the streamed checkpoint record starts
     * @param checkpoint  that record's CheckPoint
     * @param wait        how long pg_control may take to name it
     * @return the anchor, or empty when pg_control moved past it or did not name it in time
     * @throws IOException when the files cannot be read, or pg_control names the record with other contents
     */
    public static Optional<Anchor> capture(Path pgdata, Lsn recordLsn, CheckPoint checkpoint, Duration wait)
            throws IOException {
        long deadline = System.nanoTime() + wait.toNanos();
        while (true) {
            byte[] bytes = Files.readAllBytes(pgdata.resolve("global/pg_control"));
            ControlFile control;
            try {
                control = ControlFile.parse(bytes);
            } catch (IllegalArgumentException torn) {
                control = null; // read while PostgreSQL rewrote it: read again
            }
            if (control != null) {
                int c = control.checkPoint().compareTo(recordLsn);
                if (c > 0) {
                    return Optional.empty();
                }
                if (c == 0) {
                    if (!control.checkPointCopy().equals(checkpoint)) {
                        throw new IOException("pg_control of " + pgdata + " names the checkpoint at " + recordLsn
                                + " with other contents than its WAL record: " + control.checkPointCopy() + " vs " + checkpoint);
                    }
                    return Optional.of(Anchor.of(bytes, statusFiles(pgdata)));
                }
            }
            if (System.nanoTime() > deadline) {
                return Optional.empty();
            }
            sleep();
        }
    }

    /**
     * The anchor of a cleanly stopped data directory (an image): its shutdown checkpoint, whose redo
     * point is the checkpoint itself, and the status files the shutdown flushed.
     *
     * @throws IOException when the files cannot be read or the directory was not shut down cleanly
     */
    public static Anchor ofStoppedDirectory(Path pgdata) throws IOException {
        byte[] bytes = Files.readAllBytes(pgdata.resolve("global/pg_control"));
        ControlFile control = ControlFile.parse(bytes);
        if (control.state() != DbState.SHUTDOWNED) {
            throw new IOException(pgdata + " was not shut down cleanly (state " + control.state() + ")");
        }
        return Anchor.of(bytes, statusFiles(pgdata));
    }

    /** The files of {@link Anchor#DIRECTORIES}, skipping those removed while they are read. */
    static Map<String, byte[]> statusFiles(Path pgdata) throws IOException {
        Map<String, byte[]> files = new HashMap<>();
        for (String dir : Anchor.DIRECTORIES) {
            Path d = pgdata.resolve(dir);
            if (!Files.isDirectory(d)) {
                continue;
            }
            try (DirectoryStream<Path> entries = Files.newDirectoryStream(d)) {
                for (Path f : entries) {
                    String path = dir + "/" + f.getFileName();
                    if (!Anchor.isAnchorFile(path) || !Files.isRegularFile(f)) {
                        continue; // e.g. a two-phase file's temporary
                    }
                    try {
                        files.put(path, dir.equals("pg_twophase") ? twoPhaseFile(f) : Files.readAllBytes(f));
                    } catch (NoSuchFileException removed) {
                        // truncated away meanwhile: older than replay from the redo point needs
                    }
                }
            }
        }
        return files;
    }

    /**
     * A two-phase state file, read until its CRC-32C (the last four bytes, over all before them)
     * holds: a later checkpoint rewrites these files in place (truncate, write), and recovery
     * refuses a torn one.
     */
    private static byte[] twoPhaseFile(Path f) throws IOException {
        for (int attempt = 0; attempt < 100; attempt++) {
            byte[] b = Files.readAllBytes(f);
            if (b.length > 4) {
                CRC32C crc = new CRC32C();
                crc.update(b, 0, b.length - 4);
                if ((int) crc.getValue() == LittleEndian.i32(b, b.length - 4)) {
                    return b;
                }
            }
            sleep();
        }
        throw new IOException("the two-phase state file " + f + " keeps failing its CRC");
    }

    private static void sleep() throws IOException {
        try {
            Thread.sleep(POLL_MILLIS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while waiting for pg_control");
        }
    }
}
