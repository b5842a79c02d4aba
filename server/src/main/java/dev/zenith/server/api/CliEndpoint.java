package dev.zenith.server.api;

import dev.zenith.cli.Invocation;
import dev.zenith.cli.ServedCommands;
import io.vertx.core.Vertx;
import io.vertx.core.WorkerExecutor;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * {@code POST /cli}: the launcher's lean path. A client sends a command line as typed, whether its stdin and
 * stdout are a terminal, and the environment variables its output depends on; the daemon runs it with the
 * CLI's own command code (already loaded: no JVM start) and answers what it printed, framed for a shell
 * script to split without any other program: {@code EXIT\nOUT_BYTES\n}, then stdout's bytes, then stderr's.
 * A line the daemon does not serve (see {@link ServedCommands}) is answered 422 and changes nothing; the
 * client runs it itself. The commands call this daemon's REST API like any client, so they run on workers
 * of their own, never on an event loop or the management thread their requests may wait for.
 */
final class CliEndpoint {
    private final WorkerExecutor workers;
    private final Path home;

    CliEndpoint(Vertx vertx, Path home) {
        this.workers = vertx.createSharedWorkerExecutor("zenith-cli", 4);
        this.home = home;
    }

    void handle(RoutingContext ctx) {
        JsonBody body = JsonBody.parse(ctx.body().buffer(), Set.of("argv", "terminal", "env"));
        List<String> argv = body.requiredStrings("argv");
        boolean terminal = body.optionalBoolean("terminal", false);
        Map<String, String> env = body.optionalStrings("env", Invocation.ENVIRONMENT);
        workers.executeBlocking(() -> ServedCommands.run(argv, terminal, env, home), false).onComplete(ar -> {
            if (ar.failed()) {
                ctx.fail(ar.cause());
                return;
            }
            ServedCommands.Answer a = ar.result();
            if (a.notServed() != null) {
                ctx.response().setStatusCode(422).putHeader("content-type", "application/json")
                        .end(new JsonObject().put("error", "not run by the daemon: " + a.notServed()
                                + "; the zenith program runs it").encodePrettily() + "\n");
                return;
            }
            Buffer frame = Buffer.buffer((a.exitCode() + "\n" + a.out().length + "\n").getBytes(StandardCharsets.US_ASCII))
                    .appendBytes(a.out()).appendBytes(a.err());
            ctx.response().setStatusCode(200).putHeader("content-type", "text/plain; charset=utf-8").end(frame);
        });
    }
}
