package dev.zenith.server.storages;

import dev.zenith.storage.Store;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.wal.Lsn;
import io.vertx.core.json.JsonObject;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;

/**
 * Storages whose home is elsewhere (type {@code s3}): their local store is a cache under ZENITH_HOME that
 * this collaborator fills, keeps uploaded and lets go of. The registry keeps only the description.
 */
public interface RemoteStores {
    /** A description's own bound of the local cache in bytes (0: none); without it, the daemon's default. */
    String CACHE_BYTES = "cache_bytes";

    /** Whether it opens storages of this type. */
    boolean handles(String type);

    /** The checked description of a new storage (what the registry file keeps); InvalidRequestException otherwise. */
    JsonObject describe(String type, String path, String endpoint, String region);

    /** Refuses (InvalidRequestException) a cache bound the storages cannot work under. */
    default void checkCacheBytes(long bytes) {
    }

    /** Whether two descriptions name the same place. */
    boolean samePlace(JsonObject a, JsonObject b);

    /**
     * Opens the storage's store in {@code cacheDir} (blocking): checks the remote, takes its lease, and
     * fills a fresh cache from it ({@code attaching}: a new attach, whose cache is always refilled).
     */
    Store open(String name, JsonObject remote, Path cacheDir, boolean attaching);

    /** Before its store closes: uploads what is left (bounded wait), stops, lets go of the remote. */
    void closing(String name);

    /** Waits until the remote holds everything the store holds now; false after {@code timeout}. */
    boolean sync(String name, Duration timeout);

    /** What {@code storage show} adds: what the remote holds and how far behind it is. */
    JsonObject status(String name);

    /**
     * Per timeline, where the WAL the remote does not hold yet begins: the uploads still read it from the local
     * store, so garbage collection keeps it. Empty for a storage with nothing to upload.
     */
    Map<TimelineId, Lsn> walNotYetRemote(String name);

    /** No storage kept elsewhere. */
    RemoteStores NONE = new RemoteStores() {
        @Override
        public boolean handles(String type) {
            return false;
        }

        @Override
        public JsonObject describe(String type, String path, String endpoint, String region) {
            throw new IllegalStateException();
        }

        @Override
        public boolean samePlace(JsonObject a, JsonObject b) {
            return false;
        }

        @Override
        public Store open(String name, JsonObject remote, Path cacheDir, boolean attaching) {
            throw new IllegalStateException();
        }

        @Override
        public void closing(String name) {
        }

        @Override
        public boolean sync(String name, Duration timeout) {
            return true;
        }

        @Override
        public JsonObject status(String name) {
            return null;
        }

        @Override
        public Map<TimelineId, Lsn> walNotYetRemote(String name) {
            return Map.of();
        }
    };
}
