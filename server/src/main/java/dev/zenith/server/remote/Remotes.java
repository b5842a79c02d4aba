package dev.zenith.server.remote;

import dev.zenith.objectstore.ObjectStore;
import dev.zenith.objectstore.catalogue.SnapshotCatalogue;
import dev.zenith.objectstore.catalogue.SnapshotManifest;
import dev.zenith.objectstore.catalogue.SnapshotRef;
import dev.zenith.objectstore.gc.RemoteGc;
import dev.zenith.pgexec.PgInstallation;
import dev.zenith.server.compute.ComputeManager;
import dev.zenith.server.domain.InvalidRequestException;
import dev.zenith.server.jobs.Management;
import dev.zenith.server.storages.StorageRegistry;
import dev.zenith.wal.Lsn;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;

/** The face the API sees: the remotes, and pushes to, pulls from and listings of them. Blocking. */
public final class Remotes {
    /** How long a publisher waits before it trusts its listing (see SnapshotCatalogue). */
    private static final Duration SETTLE = Duration.ofSeconds(1);

    private final RemoteRegistry registry;
    private final PgInstallation pg;
    private final ComputeManager computes;
    private final StorageRegistry storages;
    private final Management management;
    private final Path home;
    private final Path scratch;
    private volatile LocalFacts facts;
    private final RemoteWarmUp warmUp = new RemoteWarmUp();

    public Remotes(RemoteRegistry registry, PgInstallation pg, ComputeManager computes, StorageRegistry storages,
                   Management management, Path home, Path scratch) {
        this.registry = registry;
        this.pg = pg;
        this.computes = computes;
        this.storages = storages;
        this.management = management;
        this.home = home;
        this.scratch = scratch;
    }

    public static Remotes open(Path home, Path scratch, PgInstallation pg, ComputeManager computes, StorageRegistry storages,
                               Management management) throws IOException {
        return new Remotes(RemoteRegistry.open(home.resolve("remotes.json")), pg, computes, storages, management, home, scratch);
    }

    public JsonObject add(String name, String url, String endpoint, String region) throws IOException {
        Remote remote = registry.add(new Remote(name, url, Optional.ofNullable(endpoint), Optional.ofNullable(region)));
        warmUp.start(remote);
        return remote.toJson();
    }

    /** Readies the S3 SDK in the background when an s3 remote is registered ({@link RemoteWarmUp}); at daemon start. */
    public void warmUp() {
        registry.list().stream().filter(Remote::isS3).findFirst().ifPresent(warmUp::start);
    }

    public JsonObject remove(String name) throws IOException {
        return registry.remove(name).toJson().put("status", "removed");
    }

    public JsonArray list() {
        return RemoteRegistry.toJson(registry.list());
    }

    public JsonObject get(String name) {
        return registry.get(name).toJson();
    }

    /** Fails at once (before a job starts) for an unknown remote. */
    public void checkExists(String name) {
        registry.get(name);
    }

    public JsonArray snapshots(String remoteName) throws IOException {
        Remote remote = registry.get(remoteName);
        JsonArray out = new JsonArray();
        try (ObjectStore objects = RemoteStores.open(remote)) {
            for (SnapshotCatalogue.Published p : new SnapshotCatalogue(objects, SETTLE).list()) {
                SnapshotManifest m = p.manifest();
                out.add(new JsonObject().put("name", m.ref().toString()).put("lsn", Lsn.of(m.lsn()).toString())
                        .put("timeline_id", m.timeline()).put("pg_version", m.cluster().pgVersion())
                        .put("system_identifier", m.cluster().systemIdentifier())
                        .put("architecture", m.machine().architecture())
                        .put("bytes", m.objects().stream().mapToLong(e -> e.contentLength()).sum())
                        .put("pushed_at", m.pushedAt().toString()).put("pushed_by", m.pushedBy()).put("version", p.key()));
            }
        }
        return out;
    }

    /**
     * Deletes what no snapshot version on the remote lists and is older than {@code grace} (what interrupted or
     * cancelled pushes left); deletes nothing while a push to it runs (see {@link RemoteGc}).
     */
    public JsonObject gc(String remoteName, Duration grace) throws IOException {
        Remote remote = registry.get(remoteName);
        try (ObjectStore objects = RemoteStores.open(remote)) {
            RemoteGc.Report r = new RemoteGc(objects, SnapshotPush.pusher()).run(grace);
            return new JsonObject().put("remote", remote.name()).put("pushes_under_way", r.pushesUnderWay())
                    .put("blobs_deleted", r.blobsDeleted()).put("bytes_freed", r.bytesFreed())
                    .put("blobs_kept_young", r.blobsKeptYoung()).put("blobs_referenced", r.blobsReferenced())
                    .put("uploads_aborted", r.uploadsAborted()).put("cut_short", r.cutShort());
        }
    }

    public JsonObject push(String snapshot, String remote, boolean force) throws IOException {
        return new SnapshotPush(registry, computes, storages, scratch, facts(), SETTLE).push(snapshot, remote, force);
    }

    public JsonObject pull(String remote, String snapshot, String storage) throws IOException {
        SnapshotRef ref = ref(snapshot);
        return new SnapshotPull(registry, computes, storages, management, home, facts(), SETTLE)
                .pull(remote, ref, storage == null ? StorageRegistry.DEFAULT_STORAGE : storage);
    }

    public static SnapshotRef ref(String snapshot) {
        try {
            return SnapshotRef.parse(snapshot);
        } catch (IllegalArgumentException e) {
            throw new InvalidRequestException("snapshot names have the form PG@SNAP, got '" + snapshot + "': " + e.getMessage());
        }
    }

    private LocalFacts facts() throws IOException {
        LocalFacts f = facts;
        if (f == null) {
            f = new LocalFacts(pg);
            facts = f;
        }
        return f;
    }
}
