package dev.zenith.server.api;

import dev.zenith.server.domain.Names;
import dev.zenith.server.remote.Remotes;
import dev.zenith.server.storages.Durations;
import io.vertx.ext.web.Router;

import java.time.Duration;
import java.util.Set;

/** {@code /remotes}: add, list, show, remove, GC, a remote's snapshots and pulling one. */
final class RemoteRoutes {
    /** What a remote GC leaves by default: a push that stopped a day ago may still be resumed. */
    static final Duration DEFAULT_GC_GRACE = Duration.ofDays(1);
    private final Remotes remotes;
    private final WorkDispatch dispatch;

    RemoteRoutes(Remotes remotes, WorkDispatch dispatch) {
        this.remotes = remotes;
        this.dispatch = dispatch;
    }

    void install(Router r) {
        r.get("/remotes").handler(ctx -> WorkDispatch.reply(ctx, 200, remotes.list()));
        r.put("/remotes").handler(ctx -> {
            JsonBody body = JsonBody.parse(ctx.body().buffer(), Set.of("name", "url", "endpoint", "region"));
            String name = body.requiredString("name");
            String url = body.requiredString("url");
            String endpoint = body.optionalString("endpoint");
            String region = body.optionalString("region");
            dispatch.reading(ctx, 201, () -> remotes.add(name, url, endpoint, region));
        });
        r.get("/remotes/:remote").handler(ctx -> WorkDispatch.reply(ctx, 200, remotes.get(ctx.pathParam("remote"))));
        r.delete("/remotes/:remote").handler(ctx -> {
            String name = ctx.pathParam("remote");
            dispatch.reading(ctx, 200, () -> remotes.remove(name));
        });
        r.post("/remotes/:remote/actions").handler(ctx -> {
            String remote = ctx.pathParam("remote");
            JsonBody body = JsonBody.parse(ctx.body().buffer(), Set.of("action", "grace"));
            body.requiredChoice("action", "gc");
            String graceText = body.optionalString("grace");
            Duration grace = graceText == null ? DEFAULT_GC_GRACE : Durations.parse(graceText);
            remotes.checkExists(remote);
            dispatch.transfer(ctx, 200, () -> remotes.gc(remote, grace));
        });
        r.get("/remotes/:remote/snapshots").handler(ctx -> {
            String name = ctx.pathParam("remote");
            remotes.checkExists(name);
            dispatch.listing(ctx, 200, () -> remotes.snapshots(name));
        });
        r.post("/remotes/:remote/snapshots/:name/actions").handler(ctx -> {
            String remote = ctx.pathParam("remote");
            String name = ctx.pathParam("name");
            JsonBody body = JsonBody.parse(ctx.body().buffer(), Set.of("action", "storage"));
            body.requiredChoice("action", "pull");
            String storage = body.optionalString("storage");
            if (storage != null) {
                Names.check("storage", storage);
            }
            Remotes.ref(name);
            remotes.checkExists(remote);
            dispatch.blocking(ctx, 201, () -> remotes.pull(remote, name, storage));
        });
    }
}
