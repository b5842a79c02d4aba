package dev.zenith.server.api;

import dev.zenith.server.compute.ComputeManager;
import dev.zenith.server.export.SnapshotExporter;
import dev.zenith.server.importer.SnapshotImporter;
import dev.zenith.server.jobs.Management;
import dev.zenith.server.remote.Remotes;
import dev.zenith.server.storages.StorageRegistry;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.PemKeyCertOptions;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.BodyHandler;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.Set;

/**
 * The REST API on port 3000: storages and pgs, as in the original design note's table. This class puts the
 * checks every request passes and the daemon's own routes in front of the routes per resource
 * ({@link StorageRoutes}, {@link PgRoutes}, {@link SnapshotRoutes}, {@link RemoteRoutes}); handlers only parse
 * and route, {@link WorkDispatch} says where their work runs.
 */
public final class RestApi {
    private final Vertx vertx;
    private final StorageRegistry storages;
    private final ComputeManager computes;
    private final Runnable shutdown;
    private final Set<Path> homes;
    /** The API's description (OpenAPI 3), kept beside this class; OpenApiTest holds it to the routes. */
    private static final JsonObject OPENAPI = loadOpenApi();
    private final RequestGuard guard;
    private final CliEndpoint cli;
    private final WorkDispatch dispatch;
    private final StorageRoutes storageRoutes;
    private final PgRoutes pgRoutes;
    private final SnapshotRoutes snapshotRoutes;
    private final RemoteRoutes remoteRoutes;

    /**
     * The home a CLI means (its ZENITH_HOME). A daemon killed with -9 leaves its daemon.json behind, naming a
     * port that another home's daemon may have taken since: that daemon must not act for this CLI.
     */
    public static final String HOME_HEADER = "zenith-home";
    public static final String READS_EXECUTOR = "zenith-reads";
    public static final String IMPORTS_EXECUTOR = "zenith-import";
    public static final String TRANSFERS_EXECUTOR = "zenith-transfers";

    /** {@code homes}: this daemon's ZENITH_HOME as configured and as the real path it resolves to. */
    public RestApi(Vertx vertx, StorageRegistry storages, ComputeManager computes, Management management,
                   Runnable shutdown, Set<Path> homes, RequestGuard guard, SnapshotExporter exporter,
                   SnapshotImporter importer, Remotes remotes) {
        this.homes = homes;
        this.guard = guard;
        this.vertx = vertx;
        this.storages = storages;
        this.computes = computes;
        this.shutdown = shutdown;
        this.cli = new CliEndpoint(vertx, homes.isEmpty() ? null : homes.iterator().next());
        this.dispatch = new WorkDispatch(vertx, management);
        this.storageRoutes = new StorageRoutes(storages, computes, dispatch);
        this.pgRoutes = new PgRoutes(storages, computes, dispatch);
        this.snapshotRoutes = new SnapshotRoutes(computes, exporter, importer, remotes, dispatch);
        this.remoteRoutes = new RemoteRoutes(remotes, dispatch);
    }

    public Router router() {
        Router r = Router.router(vertx);
        guard.install(r); // Host, Origin, OPTIONS
        r.route().handler(this::refuseOtherHomes);
        guard.installAuthentication(r); // the body's type, the token
        r.route().handler(BodyHandler.create(false).setBodyLimit(64 * 1024));

        r.get(RequestGuard.HEALTH_PATH).handler(ctx -> WorkDispatch.reply(ctx, 200, new JsonObject().put("status", "ok")));
        r.get("/status").handler(ctx -> WorkDispatch.reply(ctx, 200, PgJson.status(computes.status(), storages.pgsOfUnavailable())));
        r.post("/shutdown").handler(ctx -> {
            // Stop only once the answer is out: closing the HTTP server first would cut it off.
            WorkDispatch.reply(ctx, 202, new JsonObject().put("stopping", true)).onComplete(v -> shutdown.run());
        });

        r.get("/openapi.json").handler(ctx -> WorkDispatch.reply(ctx, 200, OPENAPI));
        r.post("/cli").handler(cli::handle);
        r.get("/jobs").handler(ctx -> WorkDispatch.reply(ctx, 200, dispatch.jobs().list()));
        r.get("/jobs/:id").handler(this::job);
        r.post("/jobs/:id/actions").handler(ctx -> WorkDispatch.reply(ctx, 202, dispatch.jobs().act(ctx.pathParam("id"),
                JsonBody.parse(ctx.body().buffer(), Set.of("action")).requiredString("action"))));

        storageRoutes.install(r);
        pgRoutes.install(r);
        snapshotRoutes.install(r);
        remoteRoutes.install(r);

        r.route().last().handler(ctx -> WorkDispatch.reply(ctx, 404, new JsonObject().put("error",
                "no such endpoint: " + ctx.request().method() + " " + ctx.request().path())));
        r.route().failureHandler(dispatch::failure);
        return r;
    }

    /** The longest a {@code GET /jobs/ID?wait_ms=} is held. */
    private static final int MAX_JOB_WAIT_MS = 60_000;

    /**
     * {@code GET /jobs/ID}: the job, at once; with {@code wait_ms=N} once it has ended or has more phases than
     * {@code seen_phases} (default: the phases it has now), or after N ms: a client following a job asks once per
     * change instead of polling.
     */
    private void job(RoutingContext ctx) {
        var job = dispatch.jobs().get(ctx.pathParam("id"));
        int waitMs = QueryParams.integer(ctx, "wait_ms", 0, 0, MAX_JOB_WAIT_MS);
        int seen = QueryParams.integer(ctx, "seen_phases", -1, 0, Integer.MAX_VALUE);
        if (waitMs == 0) {
            WorkDispatch.reply(ctx, 200, job.toJson());
            return;
        }
        var context = vertx.getOrCreateContext();
        var answered = new java.util.concurrent.atomic.AtomicBoolean();
        Runnable[] told = new Runnable[1];
        long timer = vertx.setTimer(waitMs, t -> {
            if (answered.compareAndSet(false, true)) {
                job.forget(told[0]);
                WorkDispatch.reply(ctx, 200, job.toJson());
            }
        });
        told[0] = () -> context.runOnContext(v -> {
            if (answered.compareAndSet(false, true)) {
                vertx.cancelTimer(timer);
                WorkDispatch.reply(ctx, 200, job.toJson());
            }
        });
        job.whenChanged(seen >= 0 ? seen : job.phaseCount(), told[0]);
    }

    private static JsonObject loadOpenApi() {
        try (var in = RestApi.class.getResourceAsStream("openapi.json")) {
            return new JsonObject(new String(in.readAllBytes(), StandardCharsets.UTF_8));
        } catch (IOException | NullPointerException e) {
            throw new IllegalStateException("openapi.json is missing from the server jar", e);
        }
    }

    /** A request from a CLI of another home (see {@link #HOME_HEADER}) is answered 421 and goes no further. */
    private void refuseOtherHomes(RoutingContext ctx) {
        String wanted = ctx.request().getHeader(HOME_HEADER);
        if (wanted == null || isThisHome(wanted)) {
            ctx.next();
            return;
        }
        Path home = homes.iterator().next();
        WorkDispatch.reply(ctx, 421, new JsonObject().put("error", "this is the zenith of ZENITH_HOME=" + home + ", not of " + wanted)
                .put("home", home.toString()));
    }

    private boolean isThisHome(String path) {
        try {
            return homes.contains(Path.of(path).normalize());
        } catch (InvalidPathException e) {
            return false;
        }
    }

    /** Listens on {@code host:port}; over TLS when {@code tlsCert} and {@code tlsKey} (PEM files) are given. */
    public Future<HttpServer> listen(String host, int port, Path tlsCert, Path tlsKey) {
        HttpServerOptions options = new HttpServerOptions();
        if (tlsCert != null) {
            options.setSsl(true).setKeyCertOptions(new PemKeyCertOptions().setCertPath(tlsCert.toString())
                    .setKeyPath(tlsKey.toString()));
        }
        return vertx.createHttpServer(options).requestHandler(router()).listen(port, host);
    }
}
