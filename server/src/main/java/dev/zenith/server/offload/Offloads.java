package dev.zenith.server.offload;

import dev.zenith.objectstore.lease.LeaseSettings;
import dev.zenith.objectstore.log.ManifestView;
import dev.zenith.pgexec.FileTrees;
import dev.zenith.pgexec.PrivateFiles;
import dev.zenith.objectstore.ObjectStoreException;
import dev.zenith.server.domain.InvalidRequestException;
import dev.zenith.server.domain.UnavailableException;
import dev.zenith.server.storages.RemoteNotReachedException;
import dev.zenith.server.storages.RemoteStores;
import dev.zenith.storage.Store;
import io.vertx.core.json.JsonObject;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.OptionalLong;
import java.util.concurrent.ConcurrentHashMap;
import java.util.logging.Logger;

/**
 * The daemon's s3 storages: opening one (check, lease, restore into an empty cache) and the offload that
 * keeps its prefix caught up until it is closed. Blocking; management threads.
 */
public final class Offloads implements RemoteStores {
    private static final Logger LOG = Logger.getLogger(Offloads.class.getName());
    public static final String TYPE = "s3";

    private final Path scratch;
    private final OffloadSettings settings;
    private final LeaseSettings leaseSettings;
    private final Map<String, StorageOffload> open = new ConcurrentHashMap<>();

    public Offloads(Path scratch, OffloadSettings settings, LeaseSettings leaseSettings) {
        this.scratch = scratch;
        this.settings = settings;
        this.leaseSettings = leaseSettings;
    }

    @Override
    public boolean handles(String type) {
        return TYPE.equals(type);
    }

    @Override
    public JsonObject describe(String type, String path, String endpoint, String region) {
        return S3Remote.parse(path, endpoint, region).toJson();
    }

    @Override
    public boolean samePlace(JsonObject a, JsonObject b) {
        return S3Remote.fromJson(a).samePlace(S3Remote.fromJson(b));
    }

    @Override
    public Store open(String name, JsonObject remoteJson, Path cacheDir, boolean attaching) {
        S3Remote remote = S3Remote.fromJson(remoteJson);
        OffloadSettings own = settingsOf(remoteJson);
        long began = System.nanoTime();
        boolean cachedHere = Files.exists(cacheDir.resolve("data.mdb"));
        // a restore's base is downloaded while the probe and the lease's settle wait (see BaseAhead)
        BaseAhead ahead = attaching || !cachedHere ? BaseAhead.start(remote, cacheDir) : null;
        try {
            return open(name, remote, own, cacheDir, attaching, cachedHere, ahead, began);
        } finally {
            if (ahead != null) {
                ahead.close();
            }
        }
    }

    private Store open(String name, S3Remote remote, OffloadSettings own, Path cacheDir, boolean attaching, boolean cachedHere,
                       BaseAhead ahead, long began) {
        RemoteHome home;
        if (attaching) {
            home = RemoteHome.open(remote, owner(), leaseSettings, settings.gcGrace(), OptionalLong.empty(),
                    generation -> CacheGeneration.write(cacheDir, generation), HomeTakeover.of(scratch.getParent(), OptionalLong.empty()));
        } else if (!cachedHere) {
            // nothing local to work from: the storage is restored from its prefix once that answers
            try {
                home = RemoteHome.open(remote, owner(), leaseSettings, settings.gcGrace(), OptionalLong.empty(),
                        generation -> CacheGeneration.write(cacheDir, generation), HomeTakeover.of(scratch.getParent(), OptionalLong.empty()));
            } catch (PrefixTakenException e) {
                throw e;
            } catch (RuntimeException e) {
                throw notReached(remote, e);
            }
        } else {
            try {
                home = reach(remote, cacheDir);
            } catch (RuntimeException e) {
                return openUnreached(name, remote, cacheDir, e, own);
            }
        }
        Store store = null;
        boolean restoring = false;
        try {
            ManifestView view = home.manifests.view();
            boolean cached = Files.exists(cacheDir.resolve("data.mdb"));
            if (attaching && cached) {
                FileTrees.delete(cacheDir); // a cache of an earlier attach: the prefix is the truth
                cached = false;
            }
            Files.createDirectories(scratch);
            PrivateFiles.directory(cacheDir);
            if (!cached && Restore.holdsStorage(view)) {
                LOG.info("storage '" + name + "': restoring from " + remote);
                restoring = true;
                long leased = System.nanoTime();
                boolean downloadedAhead = ahead != null && ahead.moveInto(view, cacheDir);
                if (!downloadedAhead) {
                    Restore.base(RemoteNames.currentBase(view), home.downloader, cacheDir, () -> false);
                }
                long based = System.nanoTime();
                store = Store.open(cacheDir);
                long opened = System.nanoTime();
                long wal = Restore.walAfterBase(view, home, store);
                LOG.info("storage '" + name + "': restored from " + remote + " (its base downloaded "
                        + (downloadedAhead ? "while the lease was taken" : "under the lease") + ", " + wal + " bytes of WAL after it;"
                        + " after the lease: the base in place in " + (based - leased) / 1_000_000 + " ms, the store open in "
                        + (opened - based) / 1_000_000 + " ms, its WAL in " + (System.nanoTime() - opened) / 1_000_000 + " ms)");
            } else {
                store = Store.open(cacheDir);
            }
            StorageOffload offload = new StorageOffload(name, store, home, scratch, own);
            if (restoring) {
                offload.restoredFromPrefix(System.nanoTime() - began); // its download began with the probe and lease
            }
            open.put(name, offload);
            offload.start();
            return store;
        } catch (IOException | ObjectStoreException e) {
            // a restore cut short leaves nothing behind: the next attach starts again from the prefix
            closeAfterFailure(home, store, restoring ? cacheDir : null);
            if (restoring && !attaching) {
                throw notReached(remote, e);
            }
            throw new UnavailableException("cannot " + (restoring ? "restore" : "open") + " storage '" + name + "' from "
                    + remote + ": " + e.getMessage());
        } catch (RuntimeException e) {
            closeAfterFailure(home, store, restoring ? cacheDir : null);
            throw e;
        }
    }

    private static RemoteNotReachedException notReached(S3Remote remote, Exception why) {
        return new RemoteNotReachedException("its local cache is missing and " + remote + " cannot be used now (" + why.getMessage()
                + "); it is restored from there as soon as S3 answers", why);
    }

    /** The daemon's settings, with the storage's own cache bound when it was attached with one. */
    private OffloadSettings settingsOf(JsonObject remoteJson) {
        Object own = remoteJson.getValue(RemoteStores.CACHE_BYTES);
        if (own == null) {
            return settings;
        }
        if (!(own instanceof Number n) || n.longValue() < 0) {
            throw new IllegalArgumentException("its cache_bytes in the list of storages is not a size in bytes: " + own);
        }
        long bytes = n.longValue();
        if (OffloadSettings.refusedCacheBytes(bytes) != null) { // attached before the smallest bound was stated
            LOG.warning("cache bound of " + remoteJson.getString("url", "an s3 storage") + ": "
                    + OffloadSettings.refusedCacheBytes(bytes) + "; using " + OffloadSettings.SMALLEST_CACHE_BYTES);
            bytes = OffloadSettings.SMALLEST_CACHE_BYTES;
        }
        return settings.withCacheBytes(bytes);
    }

    @Override
    public void checkCacheBytes(long bytes) {
        String refused = OffloadSettings.refusedCacheBytes(bytes);
        if (refused != null) {
            throw new InvalidRequestException("cache_size: " + refused + "; nothing was attached");
        }
    }

    /**
     * The prefix of a cache this daemon continues: refused when someone else wrote it since (see {@link CacheGeneration});
     * the lease this home's crashed predecessor left is taken over at once (see {@link HomeTakeover}).
     */
    private RemoteHome reach(S3Remote remote, Path cacheDir) {
        OptionalLong generation = CacheGeneration.read(cacheDir);
        return RemoteHome.open(remote, owner(), leaseSettings, settings.gcGrace(), generation,
                g -> CacheGeneration.write(cacheDir, g), HomeTakeover.of(scratch.getParent(), generation));
    }

    /**
     * A restart while the prefix cannot be reached (S3 down, refused, or the lease of this home's killed
     * daemon not run out yet): the intact local cache is used at once, and the offload reaches the prefix
     * with backoff and then uploads what was committed meanwhile. Only a cache that does not open is an error.
     */
    private Store openUnreached(String name, S3Remote remote, Path cacheDir, RuntimeException why, OffloadSettings own) {
        if (why instanceof PrefixTakenException) {
            LOG.severe("storage '" + name + "': " + why.getMessage());
        } else {
            LOG.warning("storage '" + name + "': " + remote + " cannot be reached now (" + why.getMessage()
                    + "); the storage works from its local cache and uploads once S3 answers");
        }
        try {
            Files.createDirectories(scratch);
        } catch (IOException e) {
            throw new UnavailableException("cannot open storage '" + name + "': " + e.getMessage());
        }
        Store store = Store.open(cacheDir);
        StorageOffload offload = new StorageOffload(name, store, remote, () -> reach(remote, cacheDir),
                String.valueOf(why.getMessage()), scratch, own);
        if (why instanceof PrefixTakenException) {
            offload.stopUploading(why.getMessage());
        }
        open.put(name, offload);
        offload.start();
        return store;
    }

    private static void closeAfterFailure(RemoteHome home, Store store, Path partialCache) {
        if (store != null) {
            store.close();
        }
        home.close();
        if (partialCache != null) {
            try {
                FileTrees.delete(partialCache);
            } catch (IOException e) {
                LOG.warning("could not remove the restore cut short at " + partialCache + ": " + e.getMessage());
            }
        }
    }

    @Override
    public void closing(String name) {
        StorageOffload o = open.remove(name);
        if (o != null) {
            o.close();
        }
    }

    @Override
    public boolean sync(String name, Duration timeout) {
        StorageOffload o = open.get(name);
        return o == null || o.sync(timeout);
    }

    public boolean sync(String name) {
        return sync(name, settings.stopWait());
    }

    @Override
    public JsonObject status(String name) {
        StorageOffload o = open.get(name);
        return o == null ? null : o.describe();
    }

    @Override
    public Map<dev.zenith.storage.timeline.TimelineId, dev.zenith.wal.Lsn> walNotYetRemote(String name) {
        StorageOffload o = open.get(name);
        return o == null ? Map.of() : o.walNotYetRemote();
    }

    /** Who holds a lease: this host, process and home, for the message another daemon gets. */
    private String owner() {
        return "zenith pid " + ProcessHandle.current().pid() + " on " + HomeTakeover.hostName() + " (" + scratch.getParent() + ")";
    }

}
