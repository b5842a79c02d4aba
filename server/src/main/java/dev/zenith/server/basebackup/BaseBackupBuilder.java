package dev.zenith.server.basebackup;

import dev.zenith.pgexec.FileTrees;
import dev.zenith.storage.Store;
import dev.zenith.storage.image.ImageManifest;
import dev.zenith.storage.timeline.Timeline;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.control.ControlFile;
import dev.zenith.wal.control.DbState;
import dev.zenith.wal.segment.WalSegments;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.stream.Stream;

/**
 * Lays out a base backup of a timeline at its current end E in a scratch directory: the newest
 * image I (checkpoint C, redo R) materialized from the store, plus (for the WAL option) the WAL
 * R..E. It is restorable the way a backup taken from a standby is: backup_label names R and C with
 * "BACKUP FROM: standby", and pg_control says "in archive recovery" with minRecoveryPoint E, so
 * PostgreSQL's recovery replays R..E and declares the backup consistent at E.
 * Blocking: call from a worker thread.
 */
public final class BaseBackupBuilder {
    private static final DateTimeFormatter START_TIME =
            DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss 'UTC'").withZone(ZoneOffset.UTC);
    /** The daemon's per-compute settings (port, synchronous_standby_names): not part of the cluster. */
    private static final String COMPUTE_SETTINGS_FILE = "zenith.conf";

    /** A laid-out backup; {@link #delete()} when streamed. Entries in archive order. */
    public record PreparedBackup(Path directory, int pgTimeline, Lsn startLsn, Lsn checkpointLsn, Lsn endLsn,
                                 List<TarArchiveReader.Entry> entries, long totalBytes) {
        public void delete() throws IOException {
            FileTrees.delete(directory);
        }
    }

    private BaseBackupBuilder() {
    }

    public static PreparedBackup prepare(Store store, Timeline timeline, String label, boolean includeWal,
                                         Path scratchRoot) throws IOException {
        Lsn end = store.lastRecordEnd(timeline.id()).orElseThrow(() ->
                new IOException("timeline " + timeline.id() + " has no WAL"));
        ImageManifest image = store.latestImageAtOrBefore(timeline.id(), end).orElseThrow(() ->
                new IOException("timeline " + timeline.id() + " has no image at or before " + end));
        int tli = timeline.pgTimeline();
        Files.createDirectories(scratchRoot);
        Path dir = scratchRoot.resolve("basebackup-" + UUID.randomUUID());
        try {
            store.materialize(image, dir);
            Files.deleteIfExists(dir.resolve(COMPUTE_SETTINGS_FILE));
            Path walDir = dir.resolve("pg_wal");
            Files.createDirectories(walDir.resolve("archive_status"));
            if (includeWal) {
                store.writeWalSegments(timeline.id(), image.redoLsn(), end, walDir);
            }
            ControlFile control = ControlFile.parse(store.pgControl(image))
                    .withoutBackupPoints()
                    .withState(DbState.IN_ARCHIVE_RECOVERY)
                    .withMinRecoveryPoint(end, tli);
            Files.write(dir.resolve("global/pg_control"), control.toFile());
            Files.writeString(dir.resolve("backup_label"), backupLabel(tli, image.redoLsn(), image.lsn(), label),
                    StandardCharsets.UTF_8);
            return new PreparedBackup(dir, tli, image.redoLsn(), image.lsn(), end, entries(dir), size(dir));
        } catch (IOException | RuntimeException e) {
            FileTrees.delete(dir);
            throw e;
        }
    }

    /** backup_label of a backup "from a standby" (PostgreSQL 15's do_pg_backup_start format). */
    static String backupLabel(int tli, Lsn redo, Lsn checkpoint, String label) {
        return "START WAL LOCATION: " + redo + " (file " + WalSegments.fileName(tli, redo) + ")\n"
                + "CHECKPOINT LOCATION: " + checkpoint + "\n"
                + "BACKUP METHOD: streamed\n"
                + "BACKUP FROM: standby\n"
                + "START TIME: " + START_TIME.format(Instant.now()) + "\n"
                + "LABEL: " + label + "\n"
                + "START TIMELINE: " + Integer.toUnsignedString(tli) + "\n";
    }

    /**
     * backup_label first, pg_control last of the data files (as PostgreSQL sends them), then the WAL
     * segments, which the manifest leaves out (pg_verifybackup checks WAL with pg_waldump instead).
     */
    private static List<TarArchiveReader.Entry> entries(Path dir) throws IOException {
        List<TarArchiveReader.Entry> first = new ArrayList<>();
        List<TarArchiveReader.Entry> middle = new ArrayList<>();
        List<TarArchiveReader.Entry> wal = new ArrayList<>();
        try (Stream<Path> walk = Files.walk(dir)) {
            for (Path p : walk.sorted().toList()) {
                if (p.equals(dir)) {
                    continue;
                }
                String rel = dir.relativize(p).toString().replace('\\', '/');
                boolean isDir = Files.isDirectory(p);
                var e = new TarArchiveReader.Entry(rel, p, isDir, isDir ? 0 : Files.size(p),
                        Files.getLastModifiedTime(p).toInstant(), !rel.startsWith("pg_wal/"));
                if (rel.equals("backup_label")) {
                    first.add(e);
                } else if (!isDir && rel.startsWith("pg_wal/")) {
                    wal.add(e);
                } else if (!rel.equals("global/pg_control")) {
                    middle.add(e);
                }
            }
        }
        Path control = dir.resolve("global/pg_control");
        first.addAll(middle);
        first.add(new TarArchiveReader.Entry("global/pg_control", control, false, Files.size(control),
                Files.getLastModifiedTime(control).toInstant(), true));
        first.addAll(wal);
        return first;
    }

    private static long size(Path dir) throws IOException {
        try (Stream<Path> walk = Files.walk(dir)) {
            long total = 0;
            for (Path p : walk.filter(Files::isRegularFile).toList()) {
                total += Files.size(p);
            }
            return total;
        }
    }
}
