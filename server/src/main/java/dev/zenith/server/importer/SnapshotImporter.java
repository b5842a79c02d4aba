package dev.zenith.server.importer;

import dev.zenith.pgexec.FileTrees;
import dev.zenith.pgexec.PgInstallation;
import dev.zenith.server.compute.BaseImage;
import dev.zenith.server.compute.ClusterPasswords;
import dev.zenith.server.compute.ComputeManager;
import dev.zenith.server.config.ZenithConfig;
import dev.zenith.server.domain.ConflictException;
import dev.zenith.server.domain.Names;
import dev.zenith.server.history.Snapshot;
import dev.zenith.server.history.SnapshotCatalog;
import dev.zenith.server.jobs.JobRegistry;
import dev.zenith.server.jobs.Progress;
import dev.zenith.server.jobs.Management;
import dev.zenith.server.security.Secrets;
import dev.zenith.server.storages.StorageRegistry;
import dev.zenith.storage.Store;
import dev.zenith.storage.image.StreamedPages;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.wal.Lsn;
import io.vertx.core.json.JsonObject;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.HashSet;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.logging.Logger;

/**
 * {@code snapshot import}: a PostgreSQL 15 cluster from outside becomes the history of a new (or empty)
 * storage, with snapshot {@code PG@SNAP} at its end. The source is staged and made a cleanly stopped cluster
 * ({@link StagedCluster}) without the management lock; a new storage is filled under a temporary name beside
 * the others ({@link NewStorage}: a tar source's relation pages go into it as they arrive, and its image keeps
 * those of files the recovery left alone) and attached once complete, an empty attached one is filled under
 * the lock, as initdb fills it ({@link BaseImage}). A failure, or a crash (the scratch directory and the temporary names are removed at
 * start), leaves nothing behind.
 */
public final class SnapshotImporter {
    private static final Logger LOG = Logger.getLogger(SnapshotImporter.class.getName());
    private static final String UNFINISHED_PREFIX = ".import-";

    private final ZenithConfig config;
    private final StorageRegistry storages;
    private final ComputeManager computes;
    private final Management management;
    private final PgInstallation pg;
    /** Storages an import is filling (guarded by this). */
    private final Set<String> importing = new HashSet<>();

    public SnapshotImporter(ZenithConfig config, StorageRegistry storages, ComputeManager computes, Management management,
                            PgInstallation pg) {
        this.config = config;
        this.storages = storages;
        this.computes = computes;
        this.management = management;
        this.pg = pg;
    }

    /** What a request names, checked without I/O (on the event loop). */
    public record Request(String snapshot, String storage, ImportSource source, String password) {
        /** {@code password}: for a basebackup:// source, sent by the CLI from its environment; may be null. */
        public static Request of(String snapshot, String storage, String from, String password) {
            SnapshotCatalog.parseName(snapshot, false);
            Names.check("storage", storage);
            return new Request(snapshot, storage, ImportSource.parse(from), password);
        }

        @Override
        public String toString() { // never the password
            return "import " + snapshot + " into " + storage + " from " + source.describe();
        }
    }

    /** Where new storages go: ZENITH_HOME/storages, as the default one. */
    private Path storagesDir() {
        return config.defaultStoragePath().getParent();
    }

    /** At start (blocking): removes new storages an import was filling when the daemon stopped. */
    public void removeUnfinished() throws IOException {
        if (!Files.isDirectory(storagesDir())) {
            return;
        }
        try (var s = Files.list(storagesDir())) {
            for (Path p : s.filter(p -> p.getFileName().toString().startsWith(UNFINISHED_PREFIX)).toList()) {
                FileTrees.delete(p);
                LOG.info("removed " + p + ", a storage an interrupted import was filling");
            }
        }
    }

    /** The storage to fill: attached (and empty) or new. */
    private record Target(StorageRegistry.Storage attached, Path newPath, String password) {
    }

    /** Runs the import (blocking, on a worker of its own, not a management thread). */
    public JsonObject importSnapshot(Request req) throws Exception {
        long started = System.nanoTime();
        Progress.current().allowCancel(); // until the storage is attached or filled, all it wrote is temporary
        Target target = locked(() -> target(req));
        try {
            Path data;
            Path temporary = storagesDir().resolve(UNFINISHED_PREFIX + req.storage() + "-" + UUID.randomUUID());
            try (NewStorage fresh = target.attached() == null ? NewStorage.create(temporary) : null;
                 Staging staging = Staging.create(pg, config.scratchDir())) {
                String what = stage(req, staging, target.password(), fresh == null ? null : fresh.streamed());
                long unpacked = System.nanoTime();
                if (fresh != null) {
                    fresh.streamed().fillForRecovery(staging.dataDir()); // what PostgreSQL reads of the files left out
                    fresh.startSync(); // the streamed pages reach the disk while PostgreSQL recovers
                }
                long staged = System.nanoTime();
                Progress.current().checkCancelled();
                StagedCluster.finish(staging, target.password(), what);
                long recovered = System.nanoTime();
                Progress.current().checkCancelled();
                data = staging.dataDir();
                JsonObject result = target.attached() != null
                        ? locked(() -> fillAttached(req, target, data))
                        : fillNew(req, target, data, fresh);
                LOG.info(String.format("imported %s into storage %s as %s in %.2f s (staged in %.2f s%s, the last"
                        + " %.2f s writing back and waiting for the store; recovered and stopped in %.2f s, stored in %.2f s)",
                        req.source().describe(), req.storage(), req.snapshot(),
                        (System.nanoTime() - started) / 1e9, (staged - started) / 1e9,
                        fresh == null ? "" : " with " + fresh.streamed(), (staged - unpacked) / 1e9, (recovered - staged) / 1e9,
                        (System.nanoTime() - recovered) / 1e9));
                return result.put("from", req.source().describe());
            }
        } finally {
            synchronized (this) {
                importing.remove(req.storage());
            }
        }
    }

    private Target target(Request req) {
        if (computes.snapshots().list().stream().anyMatch(s -> s.fullName().equals(req.snapshot()))) {
            throw new ConflictException("snapshot '" + req.snapshot() + "' already exists");
        }
        synchronized (this) {
            if (importing.contains(req.storage())) {
                throw new ConflictException("an import into storage '" + req.storage() + "' is already under way");
            }
        }
        var existing = storages.find(req.storage());
        Target t;
        if (existing.isPresent()) {
            Store store = existing.get().store();
            refuseIfHoldsCluster(store, req.storage());
            t = new Target(existing.get(), null, ClusterPasswords.find(store).orElseGet(Secrets::generate));
        } else {
            if (storages.unavailable().stream().anyMatch(u -> u.name().equals(req.storage()))) {
                throw new ConflictException("storage '" + req.storage() + "' is unavailable; detach it, or import into another");
            }
            Path path = storagesDir().resolve(req.storage());
            if (Files.exists(path)) {
                throw new ConflictException("storage '" + req.storage() + "' does not exist, but " + path + " does; attach it"
                        + " (storage attach) or remove it");
            }
            t = new Target(null, path, Secrets.generate());
        }
        synchronized (this) {
            importing.add(req.storage());
        }
        return t;
    }

    private static void refuseIfHoldsCluster(Store store, String name) {
        if (BaseImage.mainTimeline(store).isPresent()) {
            throw new ConflictException("storage '" + name + "' holds a cluster already; import into a new or empty storage");
        }
    }

    /**
     * Fills the staging directory from the source; returns how the source is named in messages. {@code streamed}:
     * where a tar source's relation pages go as they arrive, or null.
     */
    private String stage(Request req, Staging staging, String password, StreamedPages streamed) throws IOException {
        ImportSource source = req.source();
        if (source instanceof ImportSource.BaseBackupUrl url) {
            BaseBackupFetch.fetch(url, req.password(), staging.dataDir(), streamed);
        } else if (source instanceof ImportSource.DataDirectory dir) {
            SourceCopy.copyDataDirectory(pg, dir, staging.dataDir(), streamed);
        } else if (source instanceof ImportSource.BackupTar tar) {
            SourceCopy.unpackBackup(tar, staging.dataDir(), streamed);
        } else if (source instanceof ImportSource.Dump dump) {
            DumpRestore.restore(pg, dump, staging, password);
        }
        return source.describe();
    }

    /** An attached empty storage (under the management lock, as initdb's fill). */
    private JsonObject fillAttached(Request req, Target target, Path data) throws IOException {
        Store store = target.attached().store();
        refuseIfHoldsCluster(store, req.storage()); // a pg create may have run initdb there meanwhile
        ClusterPasswords.keep(store, target.password());
        Snapshot snapshot = fill(store, req, data, null);
        computes.snapshots().create(req.snapshot(), false, req.storage(), new dev.zenith.server.history.HistoryPoint(
                snapshot.timeline(), snapshot.lsn(), null, null, null));
        return describe(snapshot, target.attached().path(), false);
    }

    /** A new storage: filled under its temporary name, renamed, then attached (under the lock). */
    private JsonObject fillNew(Request req, Target target, Path data, NewStorage fresh) throws Exception {
        long started = System.nanoTime();
        Store store = fresh.store();
        ClusterPasswords.keep(store, target.password());
        Snapshot snapshot = fill(store, req, data, fresh.streamed());
        store.documents().put(Snapshot.key(req.snapshot()), snapshot.toJson().encode().getBytes(StandardCharsets.UTF_8));
        Progress.current().checkCancelled(); // the last point: from here on the storage appears
        long filled = System.nanoTime();
        fresh.moveTo(target.newPath());
        long moved = System.nanoTime();
        try {
            locked(() -> computes.attachStorage(req.storage(), "native", target.newPath().toString(),
                    StorageRegistry.DEFAULT_PITR));
        } catch (Exception e) {
            FileTrees.delete(target.newPath());
            throw e;
        }
        LOG.info(String.format("new storage %s: image stored in %.2f s, synced and named in %.2f s, attached in %.2f s",
                req.storage(), (filled - started) / 1e9, (moved - filled) / 1e9, (System.nanoTime() - moved) / 1e9));
        return describe(snapshot, target.newPath(), true);
    }

    /** {@code streamed}: pages stored as the source arrived (kept for files its recovery left alone), or null. */
    private static Snapshot fill(Store store, Request req, Path data, StreamedPages streamed) throws IOException {
        TimelineId main = BaseImage.store(store, data, req.source().describe(), streamed);
        Lsn end = store.wal().lastRecordEnd(main).orElseThrow();
        String[] name = SnapshotCatalog.parseName(req.snapshot(), false);
        return new Snapshot(name[0], name[1], req.storage(), main, end, null, Instant.now());
    }

    private static JsonObject describe(Snapshot s, Path storagePath, boolean created) {
        return new JsonObject().put("snapshot", s.fullName()).put("storage", s.storageName())
                .put("storage_path", storagePath.toString()).put("storage_created", created)
                .put("timeline_id", s.timeline().toString()).put("lsn", s.lsn().toString());
    }

    private <T> T locked(Callable<T> work) throws Exception {
        try {
            return management.run(JobRegistry.continuingCurrent(work)).toCompletionStage().toCompletableFuture().get();
        } catch (ExecutionException e) {
            if (e.getCause() instanceof Exception cause) {
                throw cause;
            }
            throw e;
        }
    }
}
