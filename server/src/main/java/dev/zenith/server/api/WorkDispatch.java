package dev.zenith.server.api;

import dev.zenith.server.jobs.Job;
import dev.zenith.server.jobs.JobRegistry;
import dev.zenith.server.jobs.Management;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.WorkerExecutor;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;

import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReadWriteLock;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.function.Function;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Where a route's work runs and how it is answered: state changes on the management threads (one at a time),
 * long reads, imports and transfers on executors of their own, each as a job a client may poll; errors mapped
 * to status codes in one place ({@link ErrorStatus}).
 */
final class WorkDispatch {
    private static final Logger LOG = Logger.getLogger(RestApi.class.getName());

    private final Vertx vertx;
    private final Management management;
    private final JobRegistry jobs = new JobRegistry(ErrorStatus::of);
    /** Where long reads run (see {@link #read}). */
    private final WorkerExecutor reads;
    /** Where imports run: beside the management lock, which they take only for their short steps. */
    private final WorkerExecutor imports;
    /** Where pushes run: off the management lock, holding the stores open as long reads do. */
    private final WorkerExecutor transfers;
    /** Held by the long reads, and exclusively by a storage detach, which closes a store. */
    private final ReadWriteLock storesInUse = new ReentrantReadWriteLock();

    WorkDispatch(Vertx vertx, Management management) {
        this.vertx = vertx;
        this.management = management;
        this.imports = vertx.createSharedWorkerExecutor(RestApi.IMPORTS_EXECUTOR, 2, 24, TimeUnit.HOURS);
        this.reads = vertx.createSharedWorkerExecutor(RestApi.READS_EXECUTOR, 2, 30, TimeUnit.MINUTES);
        this.transfers = vertx.createSharedWorkerExecutor(RestApi.TRANSFERS_EXECUTOR, 2, 24, TimeUnit.HOURS);
    }

    JobRegistry jobs() {
        return jobs;
    }

    /**
     * Runs a long action as a job on a management thread, under the management lock. A client that asks for it with
     * {@code Prefer: respond-async} (RFC 7240) is answered at once, 202 with {@code Location: /jobs/ID}, and
     * polls the job for its phase and progress; any other gets the action's answer when it is done.
     */
    void blocking(RoutingContext ctx, int status, Callable<Object> work) {
        asJob(ctx, status, management::run, work);
    }

    /**
     * A long read (snapshots' retention figures are garbage collection dry runs, a diff walks the change
     * index), as a job on the readers' executor: it neither waits behind state changes nor holds them.
     */
    void read(RoutingContext ctx, Callable<Object> work) {
        asJob(ctx, 200, w -> reads.executeBlocking(() -> whileStoresStayOpen(w), false), work);
    }

    /** An import, as a job on its own executor: it takes the management lock only for its short steps. */
    void importing(RoutingContext ctx, int status, Callable<Object> work) {
        asJob(ctx, status, w -> imports.executeBlocking(w, false), work);
    }

    /**
     * A transfer to or from a remote (a push), as a job on its own executor: it holds the stores open as a long
     * read does, and neither waits behind state changes nor holds them.
     */
    void transfer(RoutingContext ctx, int status, Callable<Object> work) {
        asJob(ctx, status, w -> transfers.executeBlocking(() -> whileStoresStayOpen(w), false), work);
    }

    /** A remote's listing, as a job on the transfers' executor; it reads no store. */
    void listing(RoutingContext ctx, int status, Callable<Object> work) {
        asJob(ctx, status, w -> transfers.executeBlocking(w, false), work);
    }

    /**
     * A short read that blocks (the store), on a worker: it does not wait behind the management lock's
     * changes, and holds the stores open as {@link #read} does.
     */
    void reading(RoutingContext ctx, Callable<Object> work) {
        reading(ctx, 200, work);
    }

    /** As above, answering {@code status}. */
    void reading(RoutingContext ctx, int status, Callable<Object> work) {
        vertx.executeBlocking(() -> whileStoresStayOpen(work), false).onComplete(ar -> {
            if (ar.succeeded()) {
                reply(ctx, status, ar.result());
            } else {
                ctx.fail(ar.cause());
            }
        });
    }

    /** Runs {@code work} with no long read under way (a storage detach closes a store): they wait for it. */
    <T> T closingStores(Callable<T> work) throws Exception {
        var closing = storesInUse.writeLock();
        closing.lock();
        try {
            return work.call();
        } finally {
            closing.unlock();
        }
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

    private void asJob(RoutingContext ctx, int status, Function<Callable<Object>, Future<Object>> runner,
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

    /** The router's failure handler: a domain error's status and message, anything else a 500 that is logged. */
    void failure(RoutingContext ctx) {
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
    static Future<Void> reply(RoutingContext ctx, int status, Object body) {
        if (ctx.response().ended()) {
            return Future.succeededFuture();
        }
        String text = body instanceof JsonObject o ? o.encodePrettily()
                : body instanceof JsonArray a ? a.encodePrettily() : String.valueOf(body);
        return ctx.response().setStatusCode(status).putHeader("content-type", "application/json").end(text + "\n");
    }
}
