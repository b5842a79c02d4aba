package dev.zenith.server.storages;

import dev.zenith.server.domain.ConflictException;
import dev.zenith.storage.Store;
import io.vertx.core.json.JsonObject;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Collection;
import java.util.Map;

/**
 * Attaching a storage kept elsewhere (s3): its place described and checked by {@link RemoteStores}, refused
 * when another listed storage is that place already, its local cache {@code remoteCaches/NAME} opened.
 */
final class RemoteAttach {
    private final RemoteStores remotes;
    private final StoragePlaces places;
    private final Path remoteCaches;

    RemoteAttach(RemoteStores remotes, StoragePlaces places, Path remoteCaches) {
        this.remotes = remotes;
        this.places = places;
        this.remoteCaches = remoteCaches;
    }

    /** The place {@code pathText} (with {@code endpoint}, {@code region}) describes, as a listed entry's "remote". */
    JsonObject describe(String type, String pathText, String endpoint, String region) {
        return remotes.describe(type, pathText, endpoint, region);
    }

    /** 409 when a listed storage (available or not), or one being attached, is at {@code remote} already. */
    void checkPlaceFree(JsonObject remote, Collection<StorageRegistry.Storage> attached, Collection<UnavailableStorage> unavailable,
                        Map<String, JsonObject> attaching) {
        for (StorageRegistry.Storage other : attached) {
            if (other.remote() != null && remotes.samePlace(other.remote(), remote)) {
                throw new ConflictException(remote.getString("url") + " is already attached as storage '" + other.name() + "'");
            }
        }
        for (UnavailableStorage u : unavailable) {
            JsonObject listed = u.listedEntry().getJsonObject("remote");
            if (listed != null && remotes.samePlace(listed, remote)) {
                throw new ConflictException(remote.getString("url") + " is already attached as storage '" + u.name() + "'");
            }
        }
        attaching.forEach((name, place) -> {
            if (remotes.samePlace(place, remote)) {
                throw new ConflictException(remote.getString("url") + " is being attached as storage '" + name + "'");
            }
        });
    }

    /** The store of {@code name} kept at {@code remote} (its lease taken, restored when the cache is empty); blocking. */
    Store open(String name, JsonObject remote) throws IOException {
        Path cache = cacheOf(name);
        places.check(cache);
        return remotes.open(name, remote, cache, true);
    }

    Path cacheOf(String name) {
        return remoteCaches.resolve(name);
    }
}
