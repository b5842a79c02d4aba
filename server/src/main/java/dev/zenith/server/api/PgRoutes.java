package dev.zenith.server.api;

import dev.zenith.server.compute.ComputeManager;
import dev.zenith.server.domain.Names;
import dev.zenith.server.storages.StorageRegistry;
import io.vertx.ext.web.Router;

import java.time.Instant;
import java.util.List;
import java.util.Set;

/** {@code /pgs}: create, list, show, log, relations, destroy, and the actions start, stop, promote, checkout. */
final class PgRoutes {
    private final StorageRegistry storages;
    private final ComputeManager computes;
    private final WorkDispatch dispatch;

    PgRoutes(StorageRegistry storages, ComputeManager computes, WorkDispatch dispatch) {
        this.storages = storages;
        this.computes = computes;
        this.dispatch = dispatch;
    }

    void install(Router r) {
        r.put("/pgs").handler(ctx -> {
            JsonBody body = JsonBody.parse(ctx.body().buffer(),
                    Set.of("name", "storage_name", "start", "snapshot", "from", "lsn", "time", "read_only", "replica_of"));
            ComputeManager.CreateRequest req = new ComputeManager.CreateRequest(
                    Names.check("pg", body.requiredString("name")), body.optionalString("storage_name"),
                    body.optionalBoolean("start", true), body.optionalString("snapshot"), body.optionalString("from"),
                    body.optionalString("lsn"), body.optionalString("time"), body.optionalBoolean("read_only", false),
                    body.optionalString("replica_of"));
            dispatch.blocking(ctx, 201, () -> PgJson.created(computes.create(req)));
        });
        r.get("/pgs").handler(ctx -> WorkDispatch.reply(ctx, 200, PgJson.list(computes.pgs(), storages.pgsOfUnavailable())));
        r.get("/pgs/:name").handler(ctx -> WorkDispatch.reply(ctx, 200, PgJson.of(computes.show(ctx.pathParam("name")))));
        r.get("/pgs/:name/log").handler(ctx -> {
            String name = ctx.pathParam("name");
            computes.checkExists(name);
            Instant since = QueryParams.instant(ctx, "since");
            Instant until = QueryParams.instant(ctx, "until");
            int limit = QueryParams.integer(ctx, "limit", 50, 1, 10_000);
            dispatch.read(ctx, () -> HistoryJson.log(computes.log(name, since, until, limit)));
        });
        r.get("/pgs/:name/relations").handler(ctx -> {
            String name = ctx.pathParam("name");
            var pg = computes.show(name);
            List<String> lsn = ctx.queryParams().getAll("lsn");
            if (lsn.size() > 1) {
                throw ApiException.badRequest("give one lsn, or none for the end of WAL");
            }
            storages.get(pg.storageName()); // a pg always has a timeline
            dispatch.reading(ctx, () -> {
                var storage = storages.get(pg.storageName());
                var source = computes.pageSource(storage.store()); // free-space maps by redo outside images' windows
                return PageCatalog.relations(storage, name, pg.timeline(), lsn.isEmpty() ? null : lsn.get(0), source::freeSpaceMaps);
            });
        });
        r.delete("/pgs/:name").handler(ctx -> {
            String name = ctx.pathParam("name");
            dispatch.blocking(ctx, 200, () -> PgJson.destroyed(computes.destroy(name)));
        });
        r.post("/pgs/:name/actions").handler(ctx -> {
            String name = ctx.pathParam("name");
            JsonBody body = JsonBody.parse(ctx.body().buffer(), Set.of("action", "is_replica", "force", "snapshot", "lsn", "time"));
            String action = body.requiredChoice("action", "start", "stop", "promote", "checkout");
            computes.checkExists(name);
            switch (action) {
                case "start" -> {
                    Boolean replica = body.optionalBoolean("is_replica"); // absent: as the pg is (a replica of a pg: one)
                    boolean force = body.optionalBoolean("force", false);
                    dispatch.blocking(ctx, 200, () -> PgJson.started(computes.start(name, replica, force)));
                }
                case "stop" -> dispatch.blocking(ctx, 200, () -> PgJson.of(computes.stop(name)));
                case "promote" -> dispatch.blocking(ctx, 200, () -> PgJson.promoted(computes.promote(name)));
                case "checkout" -> {
                    String snapshot = body.optionalString("snapshot");
                    String lsn = body.optionalString("lsn");
                    String time = body.optionalString("time");
                    dispatch.blocking(ctx, 200, () -> PgJson.checkedOut(computes.checkout(name, snapshot, lsn, time)));
                }
                default -> throw new IllegalStateException(action); // requiredChoice accepts only the cases above
            }
        });
    }
}
