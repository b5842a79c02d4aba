package dev.zenith.server.api;

import dev.zenith.cli.Invocation;
import dev.zenith.cli.ServedCommands;
import io.vertx.core.Vertx;
import io.vertx.core.WorkerExecutor;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * {@code POST /cli}: the launcher's lean path. A client sends a command line as typed, whether its stdin and
 * stdout are a terminal, the environment variables its output depends on, its working directory and its user
 * id; the daemon runs it with the CLI's own command code (already loaded: no JVM start) and answers what it
 * printed, framed for a shell script to split without any other program: {@code EXIT\nOUT_BYTES\n}, then
 * stdout's bytes, then stderr's. Every line it ran is answered 200 (whatever its exit code); a line it does not
 * serve (see {@link ServedCommands}) is answered 422 and nothing of it ran, so the client runs it itself. The
 * commands call this daemon's REST API like any client, so they run on workers of their own, never on an event
 * loop or the management thread their requests may wait for; the reading ones on a small pool, those that change
 * things and wait for jobs on another, so minutes of exports or pulls never hold up a {@code zenith pg list}.
 */
final class CliEndpoint {
    /** Changing lines under way at once (each holds a thread while it waits for its job); more wait their turn. */
    private static final int CHANGING_LINES = 16;
    /** Where the launcher sends the client's PGPASSWORD and PGPASSFILE, when it has them ({@link #withPasswords}). */
    static final String PASSWORDS_HEADER = "zenith-passwords";

    private final WorkerExecutor reads;
    private final WorkerExecutor changes;
    private final Path home;
    /** This process's user id, or -1 if unknown: only a client of the same user has its paths taken here. */
    private final long uid;

    CliEndpoint(Vertx vertx, Path home) {
        this.reads = vertx.createSharedWorkerExecutor("zenith-cli", 4);
        this.changes = vertx.createSharedWorkerExecutor("zenith-cli-changes", CHANGING_LINES, 24, TimeUnit.HOURS);
        this.home = home;
        this.uid = ownUid();
    }

    void handle(RoutingContext ctx) {
        JsonBody body = JsonBody.parse(ctx.body().buffer(), Set.of("argv", "terminal", "env", "cwd", "uid"));
        List<String> argv = body.requiredStrings("argv");
        boolean terminal = body.optionalBoolean("terminal", false);
        Map<String, String> env = withPasswords(body.optionalStrings("env", Invocation.ENVIRONMENT),
                ctx.request().getHeader(PASSWORDS_HEADER));
        Path directory = clientDirectory(body.optionalString("cwd"), body.optionalLong("uid", -1));
        WorkerExecutor workers = ServedCommands.reads(argv) ? reads : changes;
        workers.executeBlocking(() -> ServedCommands.run(argv, terminal, env, home, directory), false).onComplete(ar -> {
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

    /**
     * {@code env} with the client's PGPASSWORD and PGPASSFILE ({@link Invocation#PASSWORDS}) when it sent them: a
     * JSON object in a header, which the launcher reads from its stdin (a body is on curl's command line, which every
     * local user can read). Only a {@code basebackup://} import uses them, and only for a client of this daemon's
     * user (as the program would: its password file is that user's).
     */
    private static Map<String, String> withPasswords(Map<String, String> env, String header) {
        if (header == null) {
            return env;
        }
        JsonBody passwords = JsonBody.parse(Buffer.buffer(header), Invocation.PASSWORDS);
        Map<String, String> all = new java.util.HashMap<>(env);
        for (String name : Invocation.PASSWORDS) {
            String value = passwords.optionalString(name);
            if (value != null) {
                all.put(name, value);
            }
        }
        return all;
    }

    /**
     * The client's working directory when it is absolute and the client is this daemon's user: a path it gives
     * is then resolved and written here as the program would. Another user's paths are left to the program.
     */
    private Path clientDirectory(String cwd, long clientUid) {
        if (cwd == null || clientUid < 0 || clientUid != uid) {
            return null;
        }
        try {
            Path p = Path.of(cwd);
            return p.isAbsolute() ? p.normalize() : null;
        } catch (InvalidPathException e) {
            return null;
        }
    }

    private static long ownUid() {
        try {
            return ((Number) Files.getAttribute(Path.of("/proc/self"), "unix:uid")).longValue();
        } catch (IOException | UnsupportedOperationException | IllegalArgumentException e) {
            return -1;
        }
    }
}
