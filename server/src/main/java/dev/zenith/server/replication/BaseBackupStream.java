package dev.zenith.server.replication;

import dev.zenith.protocol.replication.ReplicationCommand.BaseBackupOptions;
import dev.zenith.protocol.replication.ReplicationCommand.Manifest;
import dev.zenith.protocol.wire.BackendMessage;
import dev.zenith.protocol.wire.BackendMessage.*;
import dev.zenith.server.basebackup.BackupManifest;
import dev.zenith.server.basebackup.BaseBackupBuilder;
import dev.zenith.server.basebackup.BaseBackupBuilder.PreparedBackup;
import dev.zenith.server.basebackup.ManifestChecksum;
import dev.zenith.server.basebackup.TarArchiveReader;
import dev.zenith.wal.Lsn;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * BASE_BACKUP on the wire, PostgreSQL 15's "copystream" form: start position and tablespace list,
 * one CopyOut carrying the archive ('n' new archive, 'd' data, 'p' progress) and the manifest ('m'),
 * then the end position and CommandComplete. The backup is laid out and read on worker threads,
 * one chunk at a time, and no chunk is read while the socket's write queue is full.
 */
final class BaseBackupStream {
    private static final Logger LOG = Logger.getLogger(BaseBackupStream.class.getName());
    private static final int CHUNK = 1 << 20;
    private static final int INT8 = 20;
    private static final int OID = 26;
    private static final int TEXT = 25;

    private final ReplicationConnection connection;
    private final ReplicationConnection.Services services;
    private final TimelineSelector.Target target;
    private final BaseBackupOptions options;
    private PreparedBackup backup;
    private TarArchiveReader tar;
    private BackupManifest manifest;
    private boolean failed;
    private long started;
    private long prepared;
    /** MAX_RATE in bytes/s (0: unlimited), and the chunk size that lets us keep to it. */
    private final long rateBytes;
    private final int chunkBytes;

    BaseBackupStream(ReplicationConnection connection, ReplicationConnection.Services services,
                     TimelineSelector.Target target, BaseBackupOptions options) {
        this.connection = connection;
        this.services = services;
        this.target = target;
        this.options = options;
        this.rateBytes = options.maxRate() * 1024L;
        // Throttled: eight chunks a second at most, as PostgreSQL samples its throttle (THROTTLING_FREQUENCY).
        this.chunkBytes = rateBytes == 0 ? CHUNK : (int) Math.max(8192, Math.min(CHUNK, rateBytes / 8));
    }

    void run() {
        if (!"client".equals(options.target())) {
            connection.error("0A000", "zenith sends base backups to the client only (TARGET 'client')");
            return;
        }
        if (!"none".equals(options.compression())) {
            connection.error("0A000", "zenith does not compress base backups on the server; compress on the client");
            return;
        }
        ManifestChecksum checksum;
        try {
            checksum = ManifestChecksum.forAlgorithm(options.manifestChecksums());
        } catch (IllegalArgumentException e) {
            connection.error("22023", e.getMessage());
            return;
        }
        manifest = new BackupManifest();
        started = System.nanoTime();
        services.blocking(() -> BaseBackupBuilder.prepare(target.store(), target.timeline(), options.label(),
                options.includeWal(), PgTimelineHistory.historyFiles(target.store(), target.timeline()),
                services.scratchDir())).onComplete(ar -> {
            if (ar.failed()) {
                LOG.log(Level.WARNING, "base backup could not be prepared", ar.cause());
                connection.error("XX000", "could not prepare base backup: " + ar.cause().getMessage());
                return;
            }
            backup = ar.result();
            prepared = System.nanoTime();
            tar = new TarArchiveReader(backup.entries(), checksum, manifest);
            connection.onClose(this::cleanUp);
            begin();
            pump();
        });
    }

    private void begin() {
        List<BackendMessage> m = new ArrayList<>(position(backup.startLsn(), backup.startTimeline()));
        m.add(new RowDescription(List.of(new Field("spcoid", 0, (short) 0, OID, (short) 4, 0, (short) 0),
                new Field("spclocation", 0, (short) 0, TEXT, (short) -1, 0, (short) 0),
                new Field("size", 0, (short) 0, INT8, (short) 8, 0, (short) 0))));
        // The data directory's row: no OID, no location; its size in kB when PROGRESS asked for it.
        m.add(DataRow.ofText(null, null, options.progress() ? Long.toString(backup.totalBytes() / 1024) : null));
        m.add(new CommandComplete("SELECT"));
        m.add(new CopyOutResponse((byte) 0, List.of()));
        m.add(new CopyData(typed('n', cstring("base.tar"), cstring(""))));
        connection.write(m.toArray(BackendMessage[]::new));
    }

    /** The recptr/tli result PostgreSQL sends for the backup's start and end positions. */
    private List<BackendMessage> position(Lsn lsn, int timeline) {
        return List.of(new RowDescription(List.of(new Field("recptr", 0, (short) 0, TEXT, (short) -1, 0, (short) 0),
                        new Field("tli", 0, (short) 0, INT8, (short) -1, 0, (short) 0))),
                DataRow.ofText(lsn.toString(), Integer.toUnsignedString(timeline)),
                new CommandComplete("SELECT"));
    }

    private void pump() {
        if (failed || connection.isClosed()) {
            cleanUp();
            return;
        }
        if (connection.socket().writeQueueFull()) {
            connection.socket().drainHandler(v -> pump());
            return;
        }
        if (rateBytes > 0) {
            // MAX_RATE: the archive so far may not have left faster than the rate allows.
            double dueSeconds = (double) tar.bytesRead() / rateBytes;
            long aheadMs = (long) ((dueSeconds - (System.nanoTime() - prepared) / 1e9) * 1000);
            if (aheadMs > 0) {
                services.vertx().setTimer(aheadMs, t -> pump());
                return;
            }
        }
        services.blocking(() -> tar.nextChunk(chunkBytes)).onComplete(ar -> {
            if (ar.failed()) {
                // The COPY is under way: PostgreSQL ends such a connection with an error too.
                LOG.log(Level.WARNING, "base backup failed while streaming", ar.cause());
                failed = true;
                cleanUp();
                connection.warning("base backup failed: " + ar.cause().getMessage());
                connection.fatal("XX000", "base backup failed: " + ar.cause().getMessage());
                return;
            }
            ByteBuffer chunk = ar.result();
            if (chunk == null) {
                finish();
                return;
            }
            connection.write(WireFrames.archiveData(chunk.array(), chunk.arrayOffset() + chunk.position(), chunk.remaining()));
            connection.write(progress());
            pump();
        });
    }

    private CopyData progress() {
        return new CopyData(ByteBuffer.allocate(9).put((byte) 'p').putLong(tar.bytesRead()).array());
    }

    private void finish() {
        List<BackendMessage> m = new ArrayList<>();
        if (options.manifest() != Manifest.NO) {
            m.add(new CopyData(new byte[] {'m'}));
            byte[] body = manifest.toBytes(backup.walRanges());
            for (int off = 0; off < body.length; off += CHUNK) {
                m.add(new CopyData(typed('d', Arrays.copyOfRange(body, off, Math.min(body.length, off + CHUNK)))));
            }
        }
        m.add(new CopyDone());
        m.addAll(position(backup.endLsn(), backup.endTimeline()));
        connection.write(m.toArray(BackendMessage[]::new));
        LOG.info(String.format("base backup \"%s\" of %s: %d bytes, %s..%s, planned in %.3f s, streamed in %.3f s",
                options.label(), target.timeline().id(), tar.bytesRead(), backup.startLsn(), backup.endLsn(),
                (prepared - started) / 1e9, (System.nanoTime() - prepared) / 1e9));
        cleanUp();
        connection.reply(List.of(new CommandComplete("BASE_BACKUP")));
    }

    private void cleanUp() {
        PreparedBackup b = backup;
        TarArchiveReader t = tar;
        backup = null;
        if (b != null) {
            services.blocking(() -> {
                t.close();
                b.delete();
                return null;
            }).onFailure(e -> LOG.log(Level.WARNING, "could not delete " + b.directory(), e));
        }
    }

    private static byte[] typed(char type, byte[]... parts) {
        int n = 1;
        for (byte[] p : parts) {
            n += p.length;
        }
        ByteBuffer b = ByteBuffer.allocate(n).put((byte) type);
        for (byte[] p : parts) {
            b.put(p);
        }
        return b.array();
    }

    private static byte[] cstring(String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        return Arrays.copyOf(b, b.length + 1);
    }
}
