package dev.zenith.server.export;

import dev.zenith.pgexec.PgInstallation;
import dev.zenith.server.domain.ConflictException;
import dev.zenith.server.domain.DomainException;
import dev.zenith.server.domain.InvalidRequestException;
import dev.zenith.server.compute.ComputeManager;
import dev.zenith.server.config.ZenithConfig;
import dev.zenith.server.history.Snapshot;
import dev.zenith.server.jobs.Progress;
import dev.zenith.server.storages.StorageRegistry;
import dev.zenith.storage.timeline.Timeline;

import java.io.IOException;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.logging.Logger;

/**
 * {@code snapshot export}: a snapshot written out of zenith, as a base backup (directory, tar, tar.zst) or
 * as dumps, to a new path that appears only once complete ({@link ExportTarget}). Runs on the management
 * thread, so the snapshot and its history cannot be destroyed or collected while they are read.
 */
public final class SnapshotExporter {
    private static final Logger LOG = Logger.getLogger(SnapshotExporter.class.getName());

    private final ZenithConfig config;
    private final StorageRegistry storages;
    private final ComputeManager computes;
    private final PgInstallation pg;
    private final UnfinishedExports unfinished;

    public SnapshotExporter(ZenithConfig config, StorageRegistry storages, ComputeManager computes, PgInstallation pg) {
        this.config = config;
        this.storages = storages;
        this.computes = computes;
        this.pg = pg;
        this.unfinished = new UnfinishedExports(config.home().resolve("exports"));
    }

    /** At start (blocking): removes the halves of exports a killed daemon was writing. */
    public void removeUnfinished() throws IOException {
        for (String pg : unfinished.removeLeftovers()) {
            try {
                computes.checkExists(pg);
            } catch (DomainException e) {
                continue; // never created, gone, or on a storage that is unavailable now
            }
            try {
                computes.destroy(pg);
                LOG.info("destroyed pg " + pg + ", the read-only pg of a dump export the daemon was stopped in the middle of");
            } catch (IOException | RuntimeException e) {
                LOG.log(java.util.logging.Level.WARNING, "could not destroy pg " + pg + " of an unfinished export", e);
            }
        }
    }

    /** The format a request names, and its target as an absolute path (checked on the event loop: no I/O). */
    public record Request(String snapshot, Path to, ExportFormat format) {
        public static Request of(String snapshot, String to, String format) {
            Path path;
            try {
                path = Path.of(to);
            } catch (InvalidPathException e) {
                throw new InvalidRequestException("invalid export target '" + to + "': " + e.getMessage());
            }
            if (!path.isAbsolute()) {
                throw new InvalidRequestException("the export target must be an absolute path, got '" + to + "'");
            }
            return new Request(snapshot, path, ExportFormat.of(format, path));
        }
    }

    /**
     * What an export wrote: {@code bytes} for a base backup (directory or tar), {@code databases} for dump
     * files (the other is null).
     */
    public record Exported(Snapshot snapshot, ExportFormat format, Path to, Long bytes, List<Dumped> databases) {
    }

    /** A database dumped: its name, its file (in the export's directory) and that file's size. */
    public record Dumped(String database, String file, long bytes) {
    }

    public Exported export(Request req) throws IOException {
        Progress.current().allowCancel(); // it writes into a temporary path only, deleted when it fails
        Snapshot snapshot = computes.snapshots().get(req.snapshot());
        StorageRegistry.Storage storage = storages.get(snapshot.storageName());
        Timeline timeline = storage.store().timelines().get(snapshot.timeline()).orElseThrow(() ->
                new ConflictException("the timeline of snapshot '" + snapshot.fullName() + "' is gone"));
        ExportTarget target = ExportTarget.check(req.to(), req.format(), forbiddenPlaces());
        long started = System.nanoTime();
        Long bytes = null;
        List<Dumped> databases = null;
        String node = req.format() == ExportFormat.DUMP ? DumpExport.nodeName(computes) : null;
        Path note = unfinished.remember(target.temporary(), node);
        try {
            if (req.format() == ExportFormat.DUMP) {
                databases = new DumpExport(computes, pg, config.passFile()).write(snapshot, node, target.temporary());
            } else {
                try (BackupSink sink = req.format() == ExportFormat.DIRECTORY ? new DirectorySink(target.temporary())
                        : new TarSink(target.temporary(), req.format() == ExportFormat.TAR_ZSTD)) {
                    bytes = BackupExport.write(storage.store(), timeline, snapshot, sink, config.scratchDir());
                }
            }
            Progress.current().checkCancelled(); // the last point: the move makes it visible
            Progress.current().phase("moving the export into place");
            target.commit();
        } catch (IOException | RuntimeException | Error e) {
            target.discard();
            throw e;
        } finally {
            unfinished.forget(note);
        }
        LOG.info(String.format("snapshot %s exported as %s to %s in %.1f s", snapshot.fullName(), req.format().label(),
                target.target(), (System.nanoTime() - started) / 1e9));
        return new Exported(snapshot, req.format(), target.target(), bytes, databases);
    }

    /** The daemon's own state, which no export may write into (nor around). */
    private Map<String, Path> forbiddenPlaces() {
        Map<String, Path> out = new LinkedHashMap<>();
        out.put("ZENITH_HOME", config.home());
        out.put("the computes' directory", config.computesDir());
        out.put("the scratch directory", config.scratchDir());
        storages.list().forEach(s -> out.put("storage '" + s.name() + "'", s.path()));
        return out;
    }
}
