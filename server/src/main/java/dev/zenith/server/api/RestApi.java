package dev.zenith.server.api;

import dev.zenith.server.compute.ComputeManager;
import dev.zenith.server.export.SnapshotExporter;
import dev.zenith.server.importer.SnapshotImporter;
import dev.zenith.server.remote.Remotes;
import dev.zenith.server.domain.Names;
import dev.zenith.server.jobs.Job;
import dev.zenith.server.jobs.JobRegistry;
import dev.zenith.server.jobs.Management;
import dev.zenith.server.storages.Durations;
import dev.zenith.server.storages.StorageRegistry;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.WorkerExecutor;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.PemKeyCertOptions;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.BodyHandler;

import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The REST API on port 3000: storages and pgs, as in the original design note's table.
 * Handlers only parse and route; state changes run on the management threads (one at a time), long
 * reads on an executor of their own.
 */
public final class RestApi {
    private static final Logger LOG = Logger.getLogger(RestApi.class.getName());

    private final Vertx vertx;
    private final StorageRegistry storages;
    private final ComputeManager computes;
    private final Management management;
    private final Runnable shutdown;
    private final Set<Path> homes;
    private final JobRegistry jobs = new JobRegistry(ErrorStatus::of);
    /** Where long reads run (see {@link #read}). */
    private final WorkerExecutor reads;
    /** Held by the long reads, and exclusively by a storage detach, which closes a store. */
    private final java.util.concurrent.locks.ReadWriteLock storesInUse = new java.util.concurrent.locks.ReentrantReadWriteLock();
    /** The API's description (OpenAPI 3), kept beside this class; OpenApiTest holds it to the routes. */
    private static final JsonObject OPENAPI = loadOpenApi();
    private final RequestGuard guard;
    private final CliEndpoint cli;
    private final SnapshotExporter exporter;
    private final SnapshotImporter importer;
    /** Where imports run: beside the management lock, which they take only for their short steps. */
    private final WorkerExecutor imports;
    public static final String IMPORTS_EXECUTOR = "zenith-import";
    private final Remotes remotes;
    /** Where pushes run: off the management lock, holding the stores open as long reads do. */
    private final WorkerExecutor transfers;

    /**
     * The home a CLI means (its ZENITH_HOME). A daemon killed with -9 leaves its daemon.json behind, naming a
     * port that another home's daemon may have taken since: that daemon must not act for this CLI.
     */
    public static final String HOME_HEADER = "zenith-home";
    public static final String READS_EXECUTOR = "zenith-reads";
    public static final String TRANSFERS_EXECUTOR = "zenith-transfers";

    /** {@code homes}: this daemon's ZENITH_HOME as configured and as the real path it resolves to. */
    public RestApi(Vertx vertx, StorageRegistry storages, ComputeManager computes, Management management,
                   Runnable shutdown, Set<Path> homes, RequestGuard guard, SnapshotExporter exporter,
                   SnapshotImporter importer, Remotes remotes) {
        this.exporter = exporter;
        this.importer = importer;
        this.remotes = remotes;
        this.imports = vertx.createSharedWorkerExecutor(IMPORTS_EXECUTOR, 2, 24, java.util.concurrent.TimeUnit.HOURS);
        this.homes = homes;
        this.guard = guard;
        this.vertx = vertx;
        this.storages = storages;
        this.computes = computes;
        this.management = management;
        this.shutdown = shutdown;
        this.cli = new CliEndpoint(vertx, homes.isEmpty() ? null : homes.iterator().next());
        this.reads = vertx.createSharedWorkerExecutor(READS_EXECUTOR, 2, 30, java.util.concurrent.TimeUnit.MINUTES);
        this.transfers = vertx.createSharedWorkerExecutor(TRANSFERS_EXECUTOR, 2, 24, java.util.concurrent.TimeUnit.HOURS);
    }

    public Router router() {
        Router r = Router.router(vertx);
        guard.install(r); // Host, Origin, OPTIONS
        r.route().handler(this::refuseOtherHomes);
        guard.installAuthentication(r); // the body's type, the token
        r.route().handler(BodyHandler.create(false).setBodyLimit(64 * 1024));

        r.get(RequestGuard.HEALTH_PATH).handler(ctx -> reply(ctx, 200, new JsonObject().put("status", "ok")));
        r.get("/status").handler(ctx -> reply(ctx, 200, PgJson.status(computes.status(), storages.pgsOfUnavailable())));
        r.post("/shutdown").handler(ctx -> {
            // Stop only once the answer is out: closing the HTTP server first would cut it off.
            reply(ctx, 202, new JsonObject().put("stopping", true)).onComplete(v -> shutdown.run());
        });

        r.get("/openapi.json").handler(ctx -> reply(ctx, 200, OPENAPI));
        r.post("/cli").handler(cli::handle);
        r.get("/jobs").handler(ctx -> reply(ctx, 200, jobs.list()));
        r.get("/jobs/:id").handler(ctx -> reply(ctx, 200, jobs.get(ctx.pathParam("id")).toJson()));

        r.put("/storages").handler(ctx -> {
            JsonBody body = JsonBody.parse(ctx.body().buffer(), Set.of("name", "type", "path", "pitr", "endpoint", "region"));
            String name = body.requiredString("name");
            String type = body.optionalString("type");
            String path = body.optionalString("path");
            String endpoint = body.optionalString("endpoint");
            String region = body.optionalString("region");
            String pitrText = body.optionalString("pitr");
            java.time.Duration pitr = pitrText == null ? StorageRegistry.DEFAULT_PITR : Durations.parse(pitrText);
            blocking(ctx, 201, () -> {
                return StorageJson.of(computes.attachStorage(name, type == null ? "native" : type, path, pitr, endpoint, region));
            });
        });
        r.get("/storages").handler(ctx -> {
            reply(ctx, 200, StorageJson.all(storages));
        });
        r.get("/storages/:name").handler(ctx -> {
            String name = ctx.pathParam("name");
            StorageJson.describe(storages, name); // an unknown name is a 404 at once
            // under the management lock: a detach must not close the store while its size is read
            blocking(ctx, 200, () -> StorageJson.describeWithSize(storages, name));
        });
        r.get("/storages/:name/timelines").handler(ctx -> {
            String name = ctx.pathParam("name");
            storages.get(name); // an unknown or unavailable storage is answered at once
            JsonArray pgs = PgJson.list(computes.pgs(), storages.pgsOfUnavailable());
            // looked up again under the stores' read lock: a detach meanwhile makes it a 404, not a closed store
            reading(ctx, () -> PageCatalog.timelines(storages.get(name), computes.timelines(), pgs));
        });
        r.post("/storages/:name/gc").handler(ctx -> {
            String name = ctx.pathParam("name");
            var raw = ctx.body().buffer();
            JsonBody body = raw == null || raw.length() == 0 ? null : JsonBody.parse(raw, Set.of("pitr"));
            String pitrText = body == null ? null : body.optionalString("pitr");
            java.time.Duration pitr = pitrText == null ? null : Durations.parse(pitrText);
            storages.get(name);
            blocking(ctx, 200, () -> PgJson.collected(computes.collectGarbage(name, pitr)));
        });
        r.delete("/storages/:name").handler(ctx -> {
            String name = ctx.pathParam("name");
            blocking(ctx, 200, () -> {
                JsonObject s = StorageJson.describe(storages, name);
                // The long reads (see read()) run beside the management lock: none may have the store closed under it.
                var closing = storesInUse.writeLock();
                closing.lock();
                try {
                    computes.detachStorage(name);
                } finally {
                    closing.unlock();
                }
                return s;
            });
        });

        r.put("/pgs").handler(ctx -> {
            JsonBody body = JsonBody.parse(ctx.body().buffer(),
                    Set.of("name", "storage_name", "start", "snapshot", "from", "lsn", "time", "read_only", "replica_of"));
            ComputeManager.CreateRequest req = new ComputeManager.CreateRequest(
                    Names.check("pg", body.requiredString("name")), body.optionalString("storage_name"),
                    body.optionalBoolean("start", true), body.optionalString("snapshot"), body.optionalString("from"),
                    body.optionalString("lsn"), body.optionalString("time"), body.optionalBoolean("read_only", false),
                    body.optionalString("replica_of"));
            blocking(ctx, 201, () -> PgJson.created(computes.create(req)));
        });
        r.get("/pgs").handler(ctx -> reply(ctx, 200, PgJson.list(computes.pgs(), storages.pgsOfUnavailable())));
        r.get("/pgs/:name").handler(ctx -> reply(ctx, 200, PgJson.of(computes.show(ctx.pathParam("name")))));
        r.get("/pgs/:name/log").handler(ctx -> {
            String name = ctx.pathParam("name");
            computes.checkExists(name);
            Instant since = instantParam(ctx, "since");
            Instant until = instantParam(ctx, "until");
            int limit = intParam(ctx, "limit", 50, 1, 10_000);
            read(ctx, () -> HistoryJson.log(computes.log(name, since, until, limit)));
        });
        r.get("/pgs/:name/relations").handler(ctx -> {
            String name = ctx.pathParam("name");
            var pg = computes.show(name);
            java.util.List<String> lsn = ctx.queryParams().getAll("lsn");
            if (lsn.size() > 1) {
                throw ApiException.badRequest("give one lsn, or none for the end of WAL");
            }
            storages.get(pg.storageName()); // a pg always has a timeline
            reading(ctx, () -> PageCatalog.relations(storages.get(pg.storageName()), name, pg.timeline(),
                    lsn.isEmpty() ? null : lsn.get(0)));
        });
        r.delete("/pgs/:name").handler(ctx -> {
            String name = ctx.pathParam("name");
            blocking(ctx, 200, () -> PgJson.destroyed(computes.destroy(name)));
        });
        r.post("/pgs/:name/actions").handler(ctx -> {
            String name = ctx.pathParam("name");
            JsonBody body = JsonBody.parse(ctx.body().buffer(), Set.of("action", "is_replica", "force", "snapshot", "lsn", "time"));
            String action = body.requiredString("action");
            computes.checkExists(name);
            switch (action) {
                case "start" -> {
                    Boolean replica = body.optionalBoolean("is_replica"); // absent: as the pg is (a replica of a pg: one)
                    boolean force = body.optionalBoolean("force", false);
                    blocking(ctx, 200, () -> PgJson.started(computes.start(name, replica, force)));
                }
                case "stop" -> blocking(ctx, 200, () -> PgJson.of(computes.stop(name)));
                case "promote" -> blocking(ctx, 200, () -> PgJson.promoted(computes.promote(name)));
                case "checkout" -> {
                    String snapshot = body.optionalString("snapshot");
                    String lsn = body.optionalString("lsn");
                    String time = body.optionalString("time");
                    blocking(ctx, 200, () -> PgJson.checkedOut(computes.checkout(name, snapshot, lsn, time)));
                }
                default -> throw ApiException.badRequest("unknown action '" + action + "'; expected start, stop, promote or checkout");
            }
        });

        r.put("/snapshots").handler(ctx -> {
            JsonBody body = JsonBody.parse(ctx.body().buffer(), Set.of("name", "lsn", "time"));
            String name = body.requiredString("name");
            String lsn = body.optionalString("lsn");
            String time = body.optionalString("time");
            blocking(ctx, 201, () -> HistoryJson.created(computes.createSnapshot(name, lsn, time)));
        });
        r.get("/snapshots").handler(ctx -> {
            String pg = ctx.queryParams().get("pg");
            boolean sizes = !"false".equals(ctx.queryParams().get("sizes"));
            read(ctx, () -> HistoryJson.snapshots(computes.listSnapshots(s -> pg == null || s.pg().equals(pg), sizes)));
        });
        r.get("/timelines").handler(ctx -> read(ctx, () -> HistoryJson.timelines(computes.timelines())));
        r.get("/snapshot-diff").handler(ctx -> {
            if (ctx.queryParams().getAll("from").size() != 1 || ctx.queryParams().getAll("to").size() != 1) {
                throw ApiException.badRequest("give both snapshots, once each: /snapshot-diff?from=PG@A&to=PG@B");
            }
            String from = ctx.queryParams().get("from");
            String to = ctx.queryParams().get("to");
            read(ctx, () -> HistoryJson.diff(computes.diffSnapshots(from, to)));
        });
        r.get("/snapshots/:name").handler(ctx -> {
            String name = ctx.pathParam("name");
            computes.snapshots().get(name);
            read(ctx, () -> HistoryJson.snapshot(computes.listSnapshots(name).get(0)));
        });
        r.post("/snapshots/:name/actions").handler(ctx -> {
            String name = ctx.pathParam("name");
            JsonBody body = JsonBody.parse(ctx.body().buffer(), Set.of("action", "to", "format", "remote", "force"));
            String action = body.requiredString("action");
            if (action.equals("push")) {
                String remote = body.requiredString("remote");
                boolean force = body.optionalBoolean("force", false);
                Remotes.ref(name);
                remotes.checkExists(remote);
                computes.snapshots().get(name);
                transfer(ctx, 201, () -> remotes.push(name, remote, force));
                return;
            }
            if (!action.equals("export")) {
                throw ApiException.badRequest("unknown action '" + action + "'; expected export or push");
            }
            var req = SnapshotExporter.Request.of(name, body.requiredString("to"), body.optionalString("format"));
            computes.snapshots().get(name); // an unknown snapshot is a 404 at once
            blocking(ctx, 201, () -> ExportJson.of(exporter.export(req)));
        });
        r.post("/imports").handler(ctx -> {
            JsonBody body = JsonBody.parse(ctx.body().buffer(), Set.of("snapshot", "storage", "from", "password"));
            var req = SnapshotImporter.Request.of(body.requiredString("snapshot"), body.requiredString("storage"),
                    body.requiredString("from"), body.optionalString("password"));
            asJob(ctx, 201, w -> imports.executeBlocking(w, false), () -> importer.importSnapshot(req));
        });
        r.delete("/snapshots/:name").handler(ctx -> {
            String name = ctx.pathParam("name");
            blocking(ctx, 200, () -> HistoryJson.destroyed(computes.destroySnapshot(name)));
        });

        r.get("/remotes").handler(ctx -> reply(ctx, 200, remotes.list()));
        r.put("/remotes").handler(ctx -> {
            JsonBody body = JsonBody.parse(ctx.body().buffer(), Set.of("name", "url", "endpoint", "region"));
            String name = body.requiredString("name");
            String url = body.requiredString("url");
            String endpoint = body.optionalString("endpoint");
            String region = body.optionalString("region");
            reading(ctx, 201, () -> remotes.add(name, url, endpoint, region));
        });
        r.get("/remotes/:remote").handler(ctx -> reply(ctx, 200, remotes.get(ctx.pathParam("remote"))));
        r.delete("/remotes/:remote").handler(ctx -> {
            String name = ctx.pathParam("remote");
            reading(ctx, 200, () -> remotes.remove(name));
        });
        r.get("/remotes/:remote/snapshots").handler(ctx -> {
            String name = ctx.pathParam("remote");
            remotes.checkExists(name);
            asJob(ctx, 200, w -> transfers.executeBlocking(w, false), () -> remotes.snapshots(name));
        });
        r.post("/remotes/:remote/snapshots/:name/actions").handler(ctx -> {
            String remote = ctx.pathParam("remote");
            String name = ctx.pathParam("name");
            JsonBody body = JsonBody.parse(ctx.body().buffer(), Set.of("action", "storage"));
            String action = body.requiredString("action");
            if (!action.equals("pull")) {
                throw ApiException.badRequest("unknown action '" + action + "'; expected pull");
            }
            String storage = body.optionalString("storage");
            if (storage != null) {
                dev.zenith.server.domain.Names.check("storage", storage);
            }
            Remotes.ref(name);
            remotes.checkExists(remote);
            blocking(ctx, 201, () -> remotes.pull(remote, name, storage));
        });

        r.route().last().handler(ctx -> reply(ctx, 404, new JsonObject().put("error",
                "no such endpoint: " + ctx.request().method() + " " + ctx.request().path())));
        r.route().failureHandler(this::failure);
        return r;
    }

    private static JsonObject loadOpenApi() {
        try (var in = RestApi.class.getResourceAsStream("openapi.json")) {
            return new JsonObject(new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8));
        } catch (java.io.IOException | NullPointerException e) {
            throw new IllegalStateException("openapi.json is missing from the server jar", e);
        }
    }

    private static Instant instantParam(RoutingContext ctx, String name) {
        String v = ctx.queryParams().get(name);
        if (v == null) {
            return null;
        }
        try {
            return java.time.OffsetDateTime.parse(v).toInstant();
        } catch (java.time.format.DateTimeParseException e) {
            throw ApiException.badRequest("query parameter '" + name + "' is not an ISO-8601 time with a zone: '" + v + "'");
        }
    }

    private static int intParam(RoutingContext ctx, String name, int dflt, int min, int max) {
        String v = ctx.queryParams().get(name);
        if (v == null) {
            return dflt;
        }
        try {
            int n = Integer.parseInt(v);
            if (n >= min && n <= max) {
                return n;
            }
        } catch (NumberFormatException e) {
            // below
        }
        throw ApiException.badRequest("query parameter '" + name + "' must be a whole number from " + min + " to " + max);
    }

    /** A request from a CLI of another home (see {@link #HOME_HEADER}) is answered 421 and goes no further. */
    private void refuseOtherHomes(RoutingContext ctx) {
        String wanted = ctx.request().getHeader(HOME_HEADER);
        if (wanted == null || isThisHome(wanted)) {
            ctx.next();
            return;
        }
        Path home = homes.iterator().next();
        reply(ctx, 421, new JsonObject().put("error", "this is the zenith of ZENITH_HOME=" + home + ", not of " + wanted)
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

    /**
     * Runs a long action as a job on a management thread, under the management lock. A client that asks for it with
     * {@code Prefer: respond-async} (RFC 7240) is answered at once, 202 with {@code Location: /jobs/ID}, and
     * polls the job for its phase and progress; any other gets the action's answer when it is done.
     */
    private void blocking(RoutingContext ctx, int status, Callable<Object> work) {
        asJob(ctx, status, management::run, work);
    }

    /**
     * A long read (snapshots' retention figures are garbage collection dry runs, a diff walks the change
     * index), as a job on the readers' executor: it neither waits behind state changes nor holds them.
     */
    private void read(RoutingContext ctx, Callable<Object> work) {
        asJob(ctx, 200, w -> reads.executeBlocking(() -> whileStoresStayOpen(w), false), work);
    }

    /** Runs {@code work} holding the stores' read lock: no detach closes a store it reads meanwhile. */
    private Object whileStoresStayOpen(Callable<Object> work) throws Exception {
        var reading = storesInUse.readLock();
        reading.lock();
        try {
            return work.call();
        } finally {
            reading.unlock();
        }
    }

    private void asJob(RoutingContext ctx, int status, java.util.function.Function<Callable<Object>, Future<Object>> runner,
                       Callable<Object> work) {
        Job job = jobs.create(ctx.request().method() + " " + ctx.request().path());
        var done = runner.apply(JobRegistry.runAs(job, work));
        String prefer = ctx.request().getHeader("prefer");
        if (prefer != null && prefer.contains("respond-async")) {
            ctx.response().putHeader("location", "/jobs/" + job.id()).putHeader("preference-applied", "respond-async");
            reply(ctx, 202, job.toJson());
            return;
        }
        done.onComplete(ar -> {
            if (ar.succeeded()) {
                reply(ctx, status, ar.result());
            } else {
                ctx.fail(ar.cause());
            }
        });
    }

    /**
     * A transfer to or from a remote (a push), as a job on its own executor: it holds the stores open as a long
     * read does, and neither waits behind state changes nor holds them.
     */
    private void transfer(RoutingContext ctx, int status, Callable<Object> work) {
        asJob(ctx, status, w -> transfers.executeBlocking(() -> whileStoresStayOpen(w), false), work);
    }

    /**
     * A short read that blocks (the store), on a worker: it does not wait behind the management lock's
     * changes, and holds the stores open as {@link #read} does.
     */
    private void reading(RoutingContext ctx, Callable<Object> work) {
        reading(ctx, 200, work);
    }

    /** As above, answering {@code status}. */
    private void reading(RoutingContext ctx, int status, Callable<Object> work) {
        vertx.executeBlocking(() -> whileStoresStayOpen(work), false).onComplete(ar -> {
            if (ar.succeeded()) {
                reply(ctx, status, ar.result());
            } else {
                ctx.fail(ar.cause());
            }
        });
    }

    private void failure(RoutingContext ctx) {
        Throwable t = ctx.failure();
        int status;
        String message;
        if (t != null && ErrorStatus.expected(t)) {
            status = ErrorStatus.of(t);
            message = t.getMessage();
        } else if (t == null) {
            status = ctx.statusCode() > 0 ? ctx.statusCode() : 500;
            message = status == 413 ? "request body too large" : status == 400 ? "bad request" : "request failed";
        } else {
            status = 500;
            message = t.getMessage() == null ? t.toString() : t.getMessage();
            LOG.log(Level.WARNING, "request failed: " + ctx.request().method() + " " + ctx.request().path(), t);
        }
        reply(ctx, status, new JsonObject().put("error", message));
    }

    /** Sends the JSON answer; the future completes once it is written. */
    private static Future<Void> reply(RoutingContext ctx, int status, Object body) {
        if (ctx.response().ended()) {
            return Future.succeededFuture();
        }
        String text = body instanceof JsonObject o ? o.encodePrettily()
                : body instanceof JsonArray a ? a.encodePrettily() : String.valueOf(body);
        return ctx.response().setStatusCode(status).putHeader("content-type", "application/json").end(text + "\n");
    }
}
