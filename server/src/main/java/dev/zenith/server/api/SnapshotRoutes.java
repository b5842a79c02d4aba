package dev.zenith.server.api;

import dev.zenith.server.compute.ComputeManager;
import dev.zenith.server.export.SnapshotExporter;
import dev.zenith.server.importer.SnapshotImporter;
import dev.zenith.server.remote.Remotes;
import io.vertx.ext.web.Router;

import java.util.Set;

/** {@code /snapshots}, {@code /timelines}, {@code /snapshot-diff} and {@code /imports}: history and what leaves or enters it. */
final class SnapshotRoutes {
    private final ComputeManager computes;
    private final SnapshotExporter exporter;
    private final SnapshotImporter importer;
    private final Remotes remotes;
    private final WorkDispatch dispatch;

    SnapshotRoutes(ComputeManager computes, SnapshotExporter exporter, SnapshotImporter importer, Remotes remotes,
                   WorkDispatch dispatch) {
        this.computes = computes;
        this.exporter = exporter;
        this.importer = importer;
        this.remotes = remotes;
        this.dispatch = dispatch;
    }

    void install(Router r) {
        r.put("/snapshots").handler(ctx -> {
            JsonBody body = JsonBody.parse(ctx.body().buffer(), Set.of("name", "lsn", "time"));
            String name = body.requiredString("name");
            String lsn = body.optionalString("lsn");
            String time = body.optionalString("time");
            dispatch.blocking(ctx, 201, () -> HistoryJson.created(computes.createSnapshot(name, lsn, time)));
        });
        r.get("/snapshots").handler(ctx -> {
            String pg = ctx.queryParams().get("pg");
            boolean sizes = !"false".equals(ctx.queryParams().get("sizes"));
            dispatch.read(ctx, () -> HistoryJson.snapshots(computes.listSnapshots(s -> pg == null || s.pg().equals(pg), sizes)));
        });
        r.get("/timelines").handler(ctx -> dispatch.read(ctx, () -> HistoryJson.timelines(computes.timelines())));
        r.get("/snapshot-diff").handler(ctx -> {
            if (ctx.queryParams().getAll("from").size() != 1 || ctx.queryParams().getAll("to").size() != 1) {
                throw ApiException.badRequest("give both snapshots, once each: /snapshot-diff?from=PG@A&to=PG@B");
            }
            String from = ctx.queryParams().get("from");
            String to = ctx.queryParams().get("to");
            dispatch.read(ctx, () -> HistoryJson.diff(computes.diffSnapshots(from, to)));
        });
        r.get("/snapshots/:name").handler(ctx -> {
            String name = ctx.pathParam("name");
            computes.snapshots().get(name);
            dispatch.read(ctx, () -> HistoryJson.snapshot(computes.listSnapshots(name).get(0)));
        });
        r.post("/snapshots/:name/actions").handler(ctx -> {
            String name = ctx.pathParam("name");
            JsonBody body = JsonBody.parse(ctx.body().buffer(), Set.of("action", "to", "format", "remote", "force"));
            String action = body.requiredChoice("action", "export", "push");
            if (action.equals("push")) {
                String remote = body.requiredString("remote");
                boolean force = body.optionalBoolean("force", false);
                Remotes.ref(name);
                remotes.checkExists(remote);
                computes.snapshots().get(name);
                dispatch.transfer(ctx, 201, () -> remotes.push(name, remote, force));
                return;
            }
            var req = SnapshotExporter.Request.of(name, body.requiredString("to"), body.optionalString("format"));
            computes.snapshots().get(name); // an unknown snapshot is a 404 at once
            dispatch.blocking(ctx, 201, () -> ExportJson.of(exporter.export(req)));
        });
        r.post("/imports").handler(ctx -> {
            JsonBody body = JsonBody.parse(ctx.body().buffer(), Set.of("snapshot", "storage", "from", "password"));
            var req = SnapshotImporter.Request.of(body.requiredString("snapshot"), body.requiredString("storage"),
                    body.requiredString("from"), body.optionalString("password"));
            dispatch.importing(ctx, 201, () -> importer.importSnapshot(req));
        });
        r.delete("/snapshots/:name").handler(ctx -> {
            String name = ctx.pathParam("name");
            dispatch.blocking(ctx, 200, () -> HistoryJson.destroyed(computes.destroySnapshot(name)));
        });
    }
}
