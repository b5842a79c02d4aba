package dev.zenith.server.basebackup;

import dev.zenith.pgexec.FileTrees;
import dev.zenith.server.anchor.AnchoredStart;
import dev.zenith.storage.Store;
import dev.zenith.storage.image.DataDirectoryLayout;
import dev.zenith.storage.image.FileEntry;
import dev.zenith.storage.image.ImageManifest;
import dev.zenith.storage.image.RelationSize;
import dev.zenith.storage.image.VersionedDirectory;
import dev.zenith.storage.timeline.PgTimelines;
import dev.zenith.storage.timeline.Timeline;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.control.ControlFile;
import dev.zenith.wal.control.DbState;
import dev.zenith.wal.segment.WalGeometry;
import dev.zenith.wal.segment.WalSegments;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.UUID;
import java.util.stream.Stream;

/**
 * Plans a base backup of a timeline at its current end E: the newest materialized anchor (checkpoint C,
 * redo R; {@link AnchoredStart}) or else the newest image, whose files and relation pages are read from
 * the store as the archive is sent, plus (for the WAL
 * option) the WAL R..E, written to a scratch directory first. It is restorable the way a backup taken from a standby is: backup_label names R and C with
 * "BACKUP FROM: standby", and pg_control says "in archive recovery" with minRecoveryPoint E, so
 * PostgreSQL's recovery replays R..E and declares the backup consistent at E.
 * Blocking: call from a worker thread.
 */
public final class BaseBackupBuilder {
    private static final DateTimeFormatter START_TIME =
            DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss 'UTC'").withZone(ZoneOffset.UTC);
    /** The daemon's per-compute settings (port, synchronous_standby_names): not part of the cluster. */
    private static final String COMPUTE_SETTINGS_FILE = "zenith.conf";
    private static final String AUTO_CONF = "postgresql.auto.conf";
    /**
     * The one compute setting a backup carries: tablespaces live in pg_tblspc as directories (in place),
     * which PostgreSQL refuses at the end of recovery without it.
     */
    private static final String IN_PLACE_TABLESPACES = "\n# Zenith local: tablespaces are in place (pg_tblspc/OID is a directory)\n"
            + "allow_in_place_tablespaces = 'on'\n";

    /**
     * A laid-out backup; {@link #delete()} when streamed. Entries in archive order. {@code walRanges}: the
     * PostgreSQL timelines of its WAL, newest first, as the manifest lists them (the first ends at
     * {@code endLsn} on {@link #endTimeline()}, the last begins at {@code startLsn} on {@link #startTimeline()}).
     */
    public record PreparedBackup(Path directory, List<BackupManifest.WalRange> walRanges, Lsn startLsn,
                                 Lsn checkpointLsn, Lsn endLsn, List<TarArchiveReader.Entry> entries, long totalBytes) {
        public int startTimeline() {
            return walRanges.get(walRanges.size() - 1).timeline();
        }

        public int endTimeline() {
            return walRanges.get(0).timeline();
        }

        public void delete() throws IOException {
            FileTrees.delete(directory);
        }
    }

    private static final java.util.logging.Logger LOG = java.util.logging.Logger.getLogger(BaseBackupBuilder.class.getName());

    private BaseBackupBuilder() {
    }

    /** {@code historyFiles}: the lineage's PostgreSQL timeline history files, sent in pg_wal with the WAL. */
    public static PreparedBackup prepare(Store store, Timeline timeline, String label, boolean includeWal,
                                         Map<Integer, byte[]> historyFiles, Path scratchRoot) throws IOException {
        Lsn end = store.wal().lastRecordEnd(timeline.id()).orElseThrow(() ->
                new IOException("timeline " + timeline.id() + " has no WAL"));
        return prepare(store, timeline, end, label, includeWal, historyFiles, scratchRoot);
    }

    /**
     * A backup of the timeline as of {@code end} (a record boundary at or before its WAL end, e.g. a
     * snapshot's LSN): the newest image whose checkpoint lies wholly before it, WAL up to it, zeros after.
     */
    public static PreparedBackup prepare(Store store, Timeline timeline, Lsn end, String label, boolean includeWal,
                                         Map<Integer, byte[]> historyFiles, Path scratchRoot) throws IOException {
        ImageManifest image = store.images().imageFor(timeline.id(), end).orElseThrow(() ->
                new IOException("timeline " + timeline.id() + " has no image at or before " + end));
        // From page versions at the newest materialized anchor where there is one, else from the image.
        AnchoredStart.Choice start = AnchoredStart.choose(store, timeline.id(), image, end);
        Source source = start.plan().map(Source::of).orElseGet(() -> Source.of(store, image));
        if (start.plan().isEmpty()) {
            LOG.info("base backup of timeline " + timeline.id() + " at " + end + " from the image at " + image.lsn()
                    + " and all WAL since: " + start.why());
        }
        ControlFile startControl = ControlFile.parse(source.pgControl());
        // The WAL may cross into later PostgreSQL timelines than the start's checkpoint (a branch, a promotion):
        // segments are named for theirs, the manifest lists each one's range, and minRecoveryPoint's timeline
        // takes recovery through the history files to the last one.
        List<BackupManifest.WalRange> ranges = walRanges(store.pgTimelines().entries(timeline.id()), source.redo(), end);
        int startTli = startControl.checkPointCopy().thisTimeLineId();
        int endTli = ranges.get(0).timeline();
        Files.createDirectories(scratchRoot);
        // Only WAL is written out (for the WAL option); the files and pages stream from the store.
        Path dir = scratchRoot.resolve("basebackup-" + UUID.randomUUID());
        try {
            Path walDir = Files.createDirectories(dir.resolve("pg_wal"));
            if (includeWal) {
                store.pgWal().writeSegments(timeline.id(), source.redo(), end, walDir);
                for (Map.Entry<Integer, byte[]> h : historyFiles.entrySet()) {
                    Files.write(walDir.resolve(String.format("%08X.history", h.getKey())), h.getValue());
                }
            }
            byte[] control = startControl
                    .withoutBackupPoints()
                    .withState(DbState.IN_ARCHIVE_RECOVERY)
                    .withMinRecoveryPoint(end, endTli)
                    .toFile();
            byte[] backupLabel = backupLabel(startTli, source.redo(), source.checkpoint(), label).getBytes(StandardCharsets.UTF_8);
            List<TarArchiveReader.Entry> entries = entries(store, timeline, image, source, backupLabel, control, walDir);
            long total = entries.stream().mapToLong(TarArchiveReader.Entry::size).sum();
            return new PreparedBackup(dir, ranges, source.redo(), source.checkpoint(), end, entries, total);
        } catch (IOException | RuntimeException e) {
            FileTrees.delete(dir);
            throw e;
        }
    }

    /**
     * Where a backup's pages and status files come from: an image (its own files, pages at its LSN), or a
     * materialized anchor (the image's small files but the anchor's status files, every fork at its size
     * there, pages at its redo point, a block without a version all zeros).
     */
    private record Source(Lsn redo, Lsn checkpoint, byte[] pgControl, List<String> directories,
                          java.util.function.Predicate<String> imageFiles, Map<String, byte[]> files,
                          List<RelationSize> relations, List<RelationSize> zeroForks, Lsn pagesAt, boolean missingAsZeros) {
        static Source of(Store store, ImageManifest image) {
            return new Source(image.redoLsn(), image.lsn(), store.images().pgControl(image), image.directories(),
                    path -> true, Map.of(), image.relations(), List.of(), image.lsn(), false);
        }

        static Source of(AnchoredStart.Plan plan) {
            VersionedDirectory d = plan.directory();
            return new Source(plan.redo(), plan.checkpoint(), d.pgControl(), d.directories(), d::takesImageFile, d.files(),
                    d.forks(), d.freeSpaceMaps(), d.versionsAt(), true);
        }
    }

    /** The timelines of the WAL from {@code start} to {@code end}, newest first (backup_manifest.c's order). */
    static List<BackupManifest.WalRange> walRanges(List<PgTimelines.Entry> lineage, Lsn start, Lsn end) {
        List<BackupManifest.WalRange> out = new java.util.ArrayList<>();
        Lsn rangeEnd = end;
        for (int i = lineage.size() - 1; i >= 0 && rangeEnd.isAfter(start); i--) {
            PgTimelines.Entry e = lineage.get(i);
            if (e.begin().isBefore(rangeEnd)) {
                out.add(new BackupManifest.WalRange(e.tli(), Lsn.max(e.begin(), start), rangeEnd));
                rangeEnd = e.begin();
            }
        }
        return out;
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
     * backup_label first, then every directory (so the client can create files in them), the image's
     * files, its relation segments, pg_control last of the data files (as PostgreSQL sends them), then
     * the WAL segments, which the manifest leaves out (pg_verifybackup checks WAL with pg_waldump).
     */
    private static List<TarArchiveReader.Entry> entries(Store store, Timeline timeline, ImageManifest image, Source source,
                                                        byte[] backupLabel, byte[] control, Path walDir)
            throws IOException {
        Instant now = Instant.now();
        List<TarArchiveReader.Entry> out = new ArrayList<>();
        out.add(inMemory("backup_label", backupLabel, now));
        TreeSet<String> directories = new TreeSet<>(source.directories());
        directories.addAll(List.of("global", "pg_wal", "pg_wal/archive_status"));
        directories.forEach(d -> out.add(TarArchiveReader.Entry.directory(d, now)));
        for (FileEntry f : image.files()) {
            if (!source.imageFiles().test(f.path())) {
                continue;
            }
            if (f.path().equals(AUTO_CONF)) {
                byte[] own = store.images().imageFile(image, f.path()).orElseThrow(() -> new IOException("image file " + f.path() + " is gone"));
                out.add(inMemory(AUTO_CONF, (new String(own, StandardCharsets.UTF_8) + IN_PLACE_TABLESPACES)
                        .getBytes(StandardCharsets.UTF_8), now));
            } else if (!f.path().equals(COMPUTE_SETTINGS_FILE) && !f.path().equals(DataDirectoryLayout.PG_CONTROL)) {
                out.add(TarArchiveReader.Entry.file(f.path(), () -> new ByteArrayInputStream(store.images().imageFile(image, f.path())
                        .orElseThrow(() -> new IOException("image file " + f.path() + " is gone"))), f.size(), now, true));
            }
        }
        source.files().forEach((path, content) -> out.add(inMemory(path, content, now)));
        for (RelationSize r : source.relations()) {
            long segments = Math.max(1, (r.blocks() + WalGeometry.RELSEG_SIZE - 1) / WalGeometry.RELSEG_SIZE);
            for (int segno = 0; segno < segments; segno++) {
                long first = (long) segno * WalGeometry.RELSEG_SIZE;
                long endBlock = Math.min(r.blocks(), first + WalGeometry.RELSEG_SIZE);
                out.add(TarArchiveReader.Entry.file(DataDirectoryLayout.segmentPath(r.rel(), segno),
                        () -> new RelationSegmentStream(store, timeline.id(), r.rel(), source.pagesAt(), first, endBlock,
                                image.dataChecksumVersion() != 0, source.missingAsZeros()),
                        (endBlock - first) * WalGeometry.BLCKSZ, now, true));
            }
        }
        for (RelationSize r : source.zeroForks()) { // free-space maps at an anchor: see VersionedDirectory
            long segments = Math.max(1, (r.blocks() + WalGeometry.RELSEG_SIZE - 1) / WalGeometry.RELSEG_SIZE);
            for (int segno = 0; segno < segments; segno++) {
                long bytes = Math.min(r.blocks() - (long) segno * WalGeometry.RELSEG_SIZE, WalGeometry.RELSEG_SIZE)
                        * WalGeometry.BLCKSZ;
                out.add(TarArchiveReader.Entry.file(DataDirectoryLayout.segmentPath(r.rel(), segno),
                        () -> new ZeroStream(bytes), bytes, now, true));
            }
        }
        out.add(inMemory("global/pg_control", control, now));
        try (Stream<Path> files = Files.list(walDir)) {
            for (Path p : files.filter(Files::isRegularFile).sorted().toList()) {
                out.add(TarArchiveReader.Entry.file("pg_wal/" + p.getFileName(), () -> Files.newInputStream(p),
                        Files.size(p), now, false));
            }
        }
        return out;
    }

    private static TarArchiveReader.Entry inMemory(String path, byte[] content, Instant modified) {
        return TarArchiveReader.Entry.file(path, () -> new ByteArrayInputStream(content), content.length, modified, true);
    }
}
