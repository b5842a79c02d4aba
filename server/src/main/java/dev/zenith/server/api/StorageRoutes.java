package dev.zenith.server.api;

import dev.zenith.server.compute.ComputeManager;
import dev.zenith.server.storages.ByteSizes;
import dev.zenith.server.storages.Durations;
import dev.zenith.server.storages.StorageRegistry;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;

import java.time.Duration;
import java.util.Set;

/** {@code /storages}: attach, list, show, a storage's timelines, garbage collection, detach. */
final class StorageRoutes {
    private final StorageRegistry storages;
    private final ComputeManager computes;
    private final WorkDispatch dispatch;

    StorageRoutes(StorageRegistry storages, ComputeManager computes, WorkDispatch dispatch) {
        this.storages = storages;
        this.computes = computes;
        this.dispatch = dispatch;
    }

    void install(Router r) {
        r.put("/storages").handler(ctx -> {
            JsonBody body = JsonBody.parse(ctx.body().buffer(), Set.of("name", "type", "path", "pitr", "endpoint", "region", "cache_size"));
            String name = body.requiredString("name");
            String type = body.optionalString("type");
            String path = body.optionalString("path");
            String endpoint = body.optionalString("endpoint");
            String region = body.optionalString("region");
            String pitrText = body.optionalString("pitr");
            Duration pitr = pitrText == null ? StorageRegistry.DEFAULT_PITR : Durations.parse(pitrText);
            String cacheSize = body.optionalString("cache_size");
            Long cacheBytes = cacheSize == null ? null : ByteSizes.parse(cacheSize);
            dispatch.blocking(ctx, 201, () -> {
                return StorageJson.of(computes.attachStorage(name, type == null ? "native" : type, path, pitr, endpoint, region, cacheBytes));
            });
        });
        r.get("/storages").handler(ctx -> {
            WorkDispatch.reply(ctx, 200, StorageJson.all(storages));
        });
        r.get("/storages/:name").handler(ctx -> {
            String name = ctx.pathParam("name");
            StorageJson.describe(storages, name); // an unknown name is a 404 at once
            // beside the management lock (a `PUT /pgs` holds it for seconds), under the stores' read lock: a
            // detach meanwhile waits for the size to be read, and one done first makes this a 404
            dispatch.reading(ctx, () -> StorageJson.describeWithSize(storages, name));
        });
        r.get("/storages/:name/timelines").handler(ctx -> {
            String name = ctx.pathParam("name");
            storages.get(name); // an unknown or unavailable storage is answered at once
            JsonArray pgs = PgJson.list(computes.pgs(), storages.pgsOfUnavailable());
            // looked up again under the stores' read lock: a detach meanwhile makes it a 404, not a closed store
            dispatch.reading(ctx, () -> PageCatalog.timelines(storages.get(name), computes.timelines(), pgs));
        });
        r.post("/storages/:name/gc").handler(ctx -> {
            String name = ctx.pathParam("name");
            var raw = ctx.body().buffer();
            JsonBody body = raw == null || raw.length() == 0 ? null : JsonBody.parse(raw, Set.of("pitr"));
            String pitrText = body == null ? null : body.optionalString("pitr");
            Duration pitr = pitrText == null ? null : Durations.parse(pitrText);
            storages.get(name);
            dispatch.blocking(ctx, 200, () -> PgJson.collected(computes.collectGarbage(name, pitr)));
        });
        r.delete("/storages/:name").handler(ctx -> {
            String name = ctx.pathParam("name");
            dispatch.blocking(ctx, 200, () -> {
                JsonObject s = StorageJson.describe(storages, name);
                // The long reads run beside the management lock: none may have the store closed under it.
                dispatch.closingStores(() -> {
                    computes.detachStorage(name);
                    return null;
                });
                return s;
            });
        });
    }
}
