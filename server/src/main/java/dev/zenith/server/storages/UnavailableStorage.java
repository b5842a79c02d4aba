package dev.zenith.server.storages;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.nio.file.Path;
import java.util.List;

/**
 * A storage listed in the registry file that this daemon cannot use now (corrupt, missing, held by another
 * process), with why. {@code listedEntry} is its registry-file entry kept as it was written (a private copy):
 * a storage that cannot be read keeps every field it was listed with.
 */
public record UnavailableStorage(JsonObject listedEntry, String error) {
    public UnavailableStorage {
        listedEntry = listedEntry.copy();
    }

    /** A copy: the entry as it was listed. */
    @Override
    public JsonObject listedEntry() {
        return listedEntry.copy();
    }

    public String name() {
        return listedEntry.getString("name");
    }

    public Path path() {
        return Path.of(listedEntry.getString("path"));
    }

    /** The pgs it held when it was last available: known by name, unusable until it is back. */
    public List<String> pgs() {
        JsonArray a = listedEntry.getJsonArray("pgs");
        return a == null ? List.of() : a.stream().map(String::valueOf).toList();
    }

    UnavailableStorage withError(String newError) {
        return new UnavailableStorage(listedEntry, newError);
    }

    /** A pg of an unavailable storage, as the pg list shows it. */
    public record Pg(String name, String storageName, String storageError) {
    }
}
