package dev.zenith.server.export;

import dev.zenith.server.basebackup.BackupManifest;
import dev.zenith.server.basebackup.BaseBackupBuilder;
import dev.zenith.server.basebackup.BaseBackupBuilder.PreparedBackup;
import dev.zenith.server.basebackup.ManifestChecksum;
import dev.zenith.server.basebackup.TarArchiveReader;
import dev.zenith.server.history.Snapshot;
import dev.zenith.server.jobs.Progress;
import dev.zenith.storage.Store;
import dev.zenith.storage.timeline.Timeline;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Path;
import java.time.Instant;
import java.util.logging.Logger;

/**
 * A snapshot as a base backup: the one the replication port's BASE_BACKUP sends (its image, its WAL up to
 * the snapshot and zeros after, backup_label, pg_control in archive recovery), written to a {@link BackupSink}
 * with a backup_manifest (CRC32C, pg_basebackup's default) that pg_verifybackup checks. Blocking; the files are
 * read on a thread of their own ({@link ReadAhead}) while this one writes.
 */
final class BackupExport {
    private static final Logger LOG = Logger.getLogger(BackupExport.class.getName());
    private static final int CHUNK = 1 << 20;

    private BackupExport() {
    }

    /** Writes the backup; the bytes of its members. */
    static long write(Store store, Timeline timeline, Snapshot snapshot, BackupSink sink, Path scratchRoot)
            throws IOException {
        Progress progress = Progress.current();
        long started = System.nanoTime();
        progress.phase("laying out the base backup (WAL up to " + snapshot.lsn() + ")");
        PreparedBackup backup = BaseBackupBuilder.prepare(store, timeline, snapshot.lsn(), "zenith export " + snapshot.fullName(),
                true, store.pgTimelines().historyFiles(timeline.id()), scratchRoot);
        long laidOut = System.nanoTime();
        try {
            progress.phase("writing the base backup", backup.totalBytes());
            ManifestChecksum checksum = ManifestChecksum.forAlgorithm("CRC32C");
            BackupManifest manifest = new BackupManifest();
            try (ReadAhead files = new ReadAhead(backup.entries(), checksum, CHUNK)) {
                for (TarArchiveReader.Entry e : backup.entries()) {
                    if (e.directory()) {
                        sink.directory(e.path(), e.modified());
                        continue;
                    }
                    ReadAhead.Chunk c;
                    try (OutputStream out = sink.file(e.path(), e.size(), e.modified())) {
                        do {
                            c = files.next();
                            out.write(c.bytes(), 0, c.length());
                            files.back(c);
                            progress.advance(c.length());
                            progress.checkCancelled(); // into the export's temporary file, which a failure deletes
                        } while (!c.last());
                    }
                    if (e.inManifest()) {
                        manifest.addFile(e.path(), e.size(), e.modified(), checksum.manifestName(), c.checksum());
                    }
                }
            }
            byte[] body = manifest.toBytes(backup.walRanges());
            try (OutputStream out = sink.file("backup_manifest", body.length, Instant.now())) {
                out.write(body);
            }
            progress.phase("syncing to disk");
            long written = System.nanoTime();
            sink.finish();
            LOG.info(String.format("base backup of %s: %d bytes, laid out in %.3f s, written in %.3f s, synced in %.3f s",
                    snapshot.fullName(), backup.totalBytes() + body.length, (laidOut - started) / 1e9,
                    (written - laidOut) / 1e9, (System.nanoTime() - written) / 1e9));
            return backup.totalBytes() + body.length;
        } finally {
            backup.delete();
        }
    }
}
