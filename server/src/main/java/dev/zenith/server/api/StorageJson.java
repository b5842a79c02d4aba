package dev.zenith.server.api;

import dev.zenith.server.storages.Durations;
import dev.zenith.server.storages.StorageRegistry;
import dev.zenith.server.storages.UnavailableStorage;
import dev.zenith.storage.StoreStats;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

/** The JSON of storages as the REST API shows them. */
final class StorageJson {
    private StorageJson() {
    }

    /** {@code status} is {@code available}, or {@code stalled} while its WAL writes fail, with the reason. */
    static JsonObject of(StorageRegistry.Storage s) {
        JsonObject json = new JsonObject().put("name", s.name()).put("type", s.type()).put("path", s.path().toString())
                .put("attached_at", s.attachedAt().toString()).put("pitr", Durations.format(s.pitr()))
                .put("tenant_id", s.tenantId()).put("status", "available");
        if (s.remote() != null) { // path is then the local cache; remote says where the storage lives
            json.put("remote", s.remote().copy());
        }
        s.store().writeStall().ifPresent(stall -> json.put("status", "stalled").put("reason", stall.reason())
                .put("stalled_since", stall.since().toString()));
        return json;
    }

    /** A storage this daemon cannot use: its registry entry as listed, with the error. */
    static JsonObject of(UnavailableStorage u) {
        return u.listedEntry().put("status", "unavailable").put("error", u.error());
    }

    /** Every storage, the unavailable ones (with their error) after the available ones. */
    static JsonArray all(StorageRegistry storages) {
        JsonArray all = new JsonArray();
        storages.list().forEach(s -> all.add(of(s)));
        storages.unavailable().forEach(u -> all.add(of(u)));
        return all;
    }

    /** One storage, available or not (404 if not listed). */
    static JsonObject describe(StorageRegistry storages, String name) {
        return storages.findUnavailable(name).map(StorageJson::of).orElseGet(() -> of(storages.get(name)));
    }

    /**
     * As {@link #describe}, plus for an available storage what its store holds now (blocking: reads the
     * store): {@code size.used_bytes}, the LMDB pages holding data (garbage collection frees pages that
     * later writes reuse), {@code size.file_bytes} and {@code size.timelines}.
     */
    static JsonObject describeWithSize(StorageRegistry storages, String name) {
        var broken = storages.findUnavailable(name);
        if (broken.isPresent()) {
            return of(broken.get());
        }
        StorageRegistry.Storage s = storages.get(name);
        StoreStats stats = s.store().stats();
        JsonObject shown = of(s).put("size", new JsonObject().put("used_bytes", stats.usedBytes())
                .put("high_water_bytes", stats.highWaterBytes()).put("file_bytes", stats.fileBytes())
                .put("timelines", stats.entries("timelines")));
        JsonObject offload = storages.remoteStatus(name);
        return offload == null ? shown : shown.put("offload", offload);
    }
}
