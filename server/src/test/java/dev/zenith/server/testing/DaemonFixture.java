package dev.zenith.server.testing;

import dev.zenith.pgexec.PgInstallation;
import dev.zenith.server.BlockedThreads;
import dev.zenith.server.ZenithDaemon;
import dev.zenith.server.config.ZenithConfig;
import dev.zenith.testkit.PgCluster;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A real zenith daemon for tests, with its own ZENITH_HOME under /tmp and free ports, either inside
 * this JVM or as a separate process (for kill -9 tests). Talks to it over REST like the CLI does.
 *
 * <p>Credentials are carried as the owner's tools carry them: {@link #request} sends the token of
 * ZENITH_HOME/api-token ({@code Authorization: Bearer}) and JSON bodies as {@code application/json};
 * {@link #psql}, {@link #pgbench}, {@link #amcheck} and any client started through
 * {@link #withCredentials} read the passwords from ZENITH_HOME/pgpass ({@code PGPASSFILE}), as the
 * connection strings zenith prints do. {@link #unauthenticated} sends exactly what it is given.
 */
public final class DaemonFixture implements AutoCloseable {
    public final Path home;
    public final int httpPort;
    public final int pgPort;
    public final int computeFirstPort;
    public final PgInstallation pg = PgInstallation.detect();
    private final HttpClient http = HttpClient.newHttpClient();
    private Vertx vertx;
    private ZenithDaemon inProcess;
    private Process process;

    public DaemonFixture() throws IOException {
        home = reachableTempDir("zenith-home-");
        httpPort = PgCluster.freePort();
        pgPort = PgCluster.freePort();
        computeFirstPort = 20000 + (int) (ProcessHandle.current().pid() % 200) * 50 + (httpPort % 50);
    }

    /** A new directory under /tmp that PostgreSQL's user can enter too (computes run as it when tests run as root). */
    public static Path reachableTempDir(String prefix) throws IOException {
        Path dir = Files.createTempDirectory(Path.of("/tmp"), prefix);
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        return dir;
    }

    /** Settings of the {@code http} section beyond host and port (a test may replace the host too). */
    public final JsonObject httpSettings = new JsonObject();
    /** Settings of the {@code pg} section beyond host and port, for a test that needs them. */
    public final JsonObject pgSettings = new JsonObject();
    /** Settings of the {@code page_service} section, for a test that needs them. */
    public final JsonObject pageServiceSettings = new JsonObject();
    /** PostgreSQL settings of the computes (small: tests run many at once). */
    public final JsonObject computeSettings = new JsonObject().put("shared_buffers", "32MB").put("max_connections", "40");

    /** Where computes live, when a test wants them outside the home (computes.dir); null: the default. */
    public Path computesDir;
    /** Options for the daemon's JVM when it runs as its own process (e.g. -Dzenith.computeFastStopSeconds=3). */
    public final List<String> jvmOptions = new ArrayList<>();
    /** Settings of the {@code wal_receiver} section, for a test that needs them. */
    public final JsonObject receiverSettings = new JsonObject();
    /** Settings of the {@code offload} section (s3 storages). */
    public final JsonObject offloadSettings = new JsonObject();
    /** Settings of the {@code page_index} section, for a test that needs them. */
    public final JsonObject pageIndexSettings = new JsonObject();
    /** Settings of the {@code redo} section, for a test that needs them. */
    public final JsonObject redoSettings = new JsonObject();
    /** Settings of the {@code follower} section, for a test that needs them. */
    public final JsonObject followerSettings = new JsonObject();

    public JsonObject configJson() {
        JsonObject computes = new JsonObject().put("first_port", computeFirstPort).put("settings", computeSettings.copy());
        if (computesDir != null) {
            computes.put("dir", computesDir.toString());
        }
        return new JsonObject().put("home", home.toString()).put("wal_receiver", receiverSettings.copy())
                .put("http", new JsonObject().put("host", "127.0.0.1").mergeIn(httpSettings).put("port", httpPort))
                .put("pg", pgSettings.copy().put("host", "127.0.0.1").put("port", pgPort))
                .put("computes", computes)
                .put("page_service", pageServiceSettings.copy())
                .put("offload", offloadSettings.copy())
                .put("page_index", pageIndexSettings.copy())
                .put("redo", redoSettings.copy())
                .put("follower", followerSettings.copy());
    }

    public DaemonFixture startInProcess() throws Exception {
        vertx = CheckedVertx.create();
        inProcess = ZenithDaemon.launch(vertx, ZenithConfig.fromJson(configJson()))
                .toCompletionStage().toCompletableFuture().get(5, TimeUnit.MINUTES);
        return this;
    }

    /** The daemon {@link #startInProcess} started (null otherwise): for tests that look inside it. */
    public ZenithDaemon inProcessDaemon() {
        return inProcess;
    }

    /** Stops the in-process daemon (its home stays) and starts a new one on the same home. */
    public DaemonFixture restartInProcess() throws Exception {
        inProcessShutdownKeepingHome();
        return startInProcess();
    }

    public void inProcessShutdownKeepingHome() throws Exception {
        inProcess.shutdown().toCompletionStage().toCompletableFuture().get(5, TimeUnit.MINUTES);
        vertx.close().toCompletionStage().toCompletableFuture().get(1, TimeUnit.MINUTES);
        inProcess = null;
    }

    /**
     * Drops the ZENITH_* settings the shell running the tests may have exported (its own daemon's home
     * and ports would win over the test's), keeping where PostgreSQL is and whom it runs as.
     */
    public static ProcessBuilder withoutZenithSettings(ProcessBuilder pb) {
        pb.environment().keySet().removeIf(k -> k.startsWith("ZENITH_") && !k.equals("ZENITH_PG_BIN") && !k.equals("ZENITH_PG_USER"));
        return pb;
    }

    /** Same daemon, as its own JVM (so it can be killed with -9); returns once it answers and has written daemon.json. */
    public DaemonFixture startProcess() throws Exception {
        Path conf = home.resolve("test-conf.json");
        Files.writeString(conf, configJson().encodePrettily());
        List<String> options = new ArrayList<>(jvmOptions);
        options.add("-Dzenith.conf=" + conf);
        ProcessBuilder pb = new ProcessBuilder(javaCommand(options, ZenithDaemon.class));
        process = withoutZenithSettings(pb).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(home.resolve("daemon.out").toFile())).start();
        long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(3);
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                throw new IllegalStateException("daemon exited: " + Files.readString(home.resolve("daemon.out")));
            }
            try {
                // it answers /status a moment before it writes daemon.json, which the launcher reads to find it
                if (request("GET", "/status", null).statusCode() == 200 && Files.exists(home.resolve("daemon.json"))) {
                    return this;
                }
            } catch (IOException e) {
                // not listening yet
            }
            Thread.sleep(100);
        }
        throw new IllegalStateException("daemon did not come up");
    }

    /**
     * A JVM like this test's (same java, same class path, the module openings lmdbjava needs) running
     * {@code main} with {@code args}.
     */
    public static List<String> javaCommand(List<String> jvmOptions, Class<?> main, String... args) {
        List<String> cmd = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElse("java"),
                "--add-opens", "java.base/java.nio=ALL-UNNAMED", "--add-opens", "java.base/sun.nio.ch=ALL-UNNAMED"));
        cmd.addAll(jvmOptions);
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), main.getName()));
        cmd.addAll(List.of(args));
        return cmd;
    }

    public void killProcess() throws InterruptedException {
        process.destroyForcibly();
        process.waitFor(1, TimeUnit.MINUTES);
    }

    /** A REST request as the owner's CLI sends it: the home's token, a JSON body. */
    public HttpResponse<String> request(String method, String path, String body) throws IOException, InterruptedException {
        List<String> headers = new ArrayList<>(List.of("Authorization", "Bearer " + apiToken()));
        if (body != null) {
            headers.addAll(List.of("Content-Type", "application/json"));
        }
        return unauthenticated(method, path, body, headers.toArray(String[]::new));
    }

    /** A REST request with only the given headers (name, value, name, value...): no token, no content type. */
    public HttpResponse<String> unauthenticated(String method, String path, String body, String... headers)
            throws IOException, InterruptedException {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + httpPort + path))
                .timeout(Duration.ofMinutes(10))
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        for (int i = 0; i < headers.length; i += 2) {
            b.header(headers[i], headers[i + 1]);
        }
        return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    /** The REST API's token (the daemon writes it at its first start); empty before that. */
    public String apiToken() {
        try {
            return Files.readAllLines(home.resolve("api-token")).get(0).trim();
        } catch (IOException | IndexOutOfBoundsException e) {
            return "";
        }
    }

    /** The owner's password file: every pg's port and the replication port. */
    public Path passFile() {
        return home.resolve("pgpass");
    }

    /**
     * A client tool (psql, pgbench, pg_basebackup...) for {@code port} with the owner's credentials: the
     * home's password file, and for a port it does not list (a vanilla server started on a base backup
     * of storage local) that storage's password in PGPASSWORD.
     */
    public ProcessBuilder withCredentials(ProcessBuilder pb, int port) {
        pb.environment().remove("PGPASSWORD");
        pb.environment().put("PGPASSFILE", passFile().toString());
        if (passwordOfPort(port).isEmpty()) {
            localStoragePassword().ifPresent(pw -> pb.environment().put("PGPASSWORD", pw));
        }
        return pb;
    }

    private java.util.Optional<String> passwordOfPort(int port) {
        try {
            return Files.readAllLines(passFile()).stream().filter(l -> l.startsWith("127.0.0.1:" + port + ":"))
                    .map(l -> l.substring(l.lastIndexOf(':') + 1)).findFirst();
        } catch (IOException e) {
            return java.util.Optional.empty();
        }
    }

    /** The password of storage local's cluster, as the password file has it for one of that storage's pgs. */
    private java.util.Optional<String> localStoragePassword() {
        try {
            JsonArray pgs = (JsonArray) ok(200, "GET", "/pgs", null);
            for (int i = 0; i < pgs.size(); i++) {
                JsonObject pg = pgs.getJsonObject(i);
                if ("local".equals(pg.getString("storage_name")) && pg.getInteger("port") != null) {
                    var pw = passwordOfPort(pg.getInteger("port"));
                    if (pw.isPresent()) {
                        return pw;
                    }
                }
            }
        } catch (IOException | InterruptedException | AssertionError e) {
            // no daemon to ask: no password
        }
        return java.util.Optional.empty();
    }

    /** Runs a client tool to completion with the owner's credentials for {@code port}; its output, or an IOException with it. */
    public String client(int port, List<String> cmd) throws IOException {
        return PgCluster.ProcessRunner.run(withCredentials(new ProcessBuilder(cmd), port).directory(Path.of("/tmp").toFile()));
    }

    /** pg_dump of the postgres database of the pg on {@code port}, as below. */
    public String dump(int port) throws IOException {
        return dump(port, "postgres");
    }

    /** pg_dump of a database of the pg on {@code port}, without its restrict lines, whose key each run draws at random. */
    public String dump(int port, String db) throws IOException {
        return client(port, List.of(pg.bin("pg_dump").toString(), "-w", "-h", "127.0.0.1", "-p", Integer.toString(port),
                "-U", "postgres", "-d", db)).replaceAll("(?m)^\\\\(un)?restrict .*$", "");
    }

    /** {@code pg create NAME --snapshot SNAPSHOT} (started); the new pg's port. */
    public int branch(String name, String snapshot) throws IOException, InterruptedException {
        return ((JsonObject) ok(201, "PUT", "/pgs", new JsonObject().put("name", name).put("snapshot", snapshot)
                .encode())).getInteger("port");
    }

    /** Starts a long action as a job ({@code Prefer: respond-async}, so 202); its Location, /jobs/ID. */
    public String startJob(String method, String path, JsonObject body) throws IOException, InterruptedException {
        HttpResponse<String> accepted = unauthenticated(method, path, body == null ? null : body.encode(),
                "Authorization", "Bearer " + apiToken(), "Content-Type", "application/json", "Prefer", "respond-async");
        if (accepted.statusCode() != 202) {
            throw new AssertionError(method + " " + path + " was not accepted as a job: " + accepted.statusCode() + " " + accepted.body());
        }
        return accepted.headers().firstValue("location").orElseThrow();
    }

    /** Polls a GET until its JSON satisfies {@code done}; fails after two minutes with the last answer. */
    public JsonObject awaitJson(String path, java.util.function.Predicate<JsonObject> done) throws Exception {
        String last = "";
        for (long deadline = System.nanoTime() + 120_000_000_000L; System.nanoTime() < deadline; Thread.sleep(100)) {
            HttpResponse<String> r = request("GET", path, null);
            last = r.statusCode() + " " + r.body();
            if (r.statusCode() == 200 && done.test(new JsonObject(r.body()))) {
                return new JsonObject(r.body());
            }
        }
        throw new AssertionError("GET " + path + " never got there; last answer: " + last);
    }

    /** A request that must succeed with the given status; returns the JSON body. */
    public Object ok(int status, String method, String path, String body) throws IOException, InterruptedException {
        HttpResponse<String> r = request(method, path, body);
        if (r.statusCode() != status) {
            throw new AssertionError(method + " " + path + " -> " + r.statusCode() + " " + r.body());
        }
        String t = r.body().trim();
        return t.startsWith("[") ? new JsonArray(t) : new JsonObject(t);
    }

    public JsonObject createPg(String name) throws Exception {
        return (JsonObject) ok(201, "PUT", "/pgs", new JsonObject().put("name", name).encode());
    }

    public JsonObject action(String name, String action) throws Exception {
        return (JsonObject) ok(200, "POST", "/pgs/" + name + "/actions", new JsonObject().put("action", action).encode());
    }

    public JsonObject pg(String name) throws Exception {
        return (JsonObject) ok(200, "GET", "/pgs/" + name, null);
    }

    /** psql against a compute's port (the owner's credentials); unaligned tuples-only output. */
    /**
     * The PostgreSQL timeline the primary on {@code port} writes on (its WAL file's name). pg_control's checkpoint
     * names it only once the checkpoint after a promotion's end-of-recovery record is done, which starts do not wait for.
     */
    public String pgTimeline(int port) throws IOException {
        return psql(port, "SELECT ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int");
    }

    public String psql(int port, String sql) throws IOException {
        return client(port, List.of(pg.bin("psql").toString(), "-X", "-w", "-h", "127.0.0.1", "-p", Integer.toString(port),
                "-U", "postgres", "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-At", "-c", sql)).trim();
    }

    /**
     * pg_amcheck --heapallindexed against a compute; fails on any corruption it reports. {@code scope}:
     * which databases, e.g. {@code "--all", "--install-missing"}, or {@code "-d", "postgres"} for a
     * read-only node whose amcheck extension was created before.
     */
    public void amcheck(int port, String... scope) throws IOException {
        List<String> cmd = new ArrayList<>(List.of(pg.bin("pg_amcheck").toString(), "-w", "-h", "127.0.0.1", "-p",
                Integer.toString(port), "-U", "postgres", "--heapallindexed"));
        cmd.addAll(List.of(scope));
        client(port, cmd);
    }

    /** pgbench against a compute (a client only: runs as this user). */
    public String pgbench(int port, String... args) throws IOException {
        List<String> cmd = new ArrayList<>(List.of(pg.bin("pgbench").toString(), "-h", "127.0.0.1", "-p",
                Integer.toString(port), "-U", "postgres"));
        cmd.addAll(List.of(args));
        cmd.add("postgres");
        return client(port, cmd);
    }

    /** The postmaster's pid from a running compute's postmaster.pid. */
    public static long postmasterPid(Path pgdata) throws IOException {
        return Long.parseLong(Files.readAllLines(pgdata.resolve("postmaster.pid")).get(0).trim());
    }

    /** kill -9 of a compute: its postmaster and every backend, as a crash would end them. */
    public static void killCompute(JsonObject pg) throws IOException {
        ProcessHandle.of(postmasterPid(Path.of(pg.getString("pgdata")))).ifPresent(h -> {
            h.descendants().forEach(ProcessHandle::destroyForcibly);
            h.destroyForcibly();
        });
    }

    /**
     * Waits (up to 4 minutes) until background materialization has a step at or past {@code lsn}, as a daemon
     * started with {@link #startProcess} tells in its log. A step ends at the record before its anchor's redo point:
     * to wait for the step of a checkpoint just taken, {@link #awaitStepOfAnchor}.
     */
    public void awaitMaterialized(dev.zenith.wal.Lsn lsn) throws InterruptedException {
        awaitStep(java.util.regex.Pattern.compile("materialized up to (\\S+) "), lsn);
    }

    /**
     * Waits (up to 4 minutes) until background materialization has made the step of the anchor at {@code redo} (its
     * checkpoint's redo point) or of a later one, as a daemon started with {@link #startProcess} tells in its log.
     */
    public void awaitStepOfAnchor(dev.zenith.wal.Lsn redo) throws InterruptedException {
        awaitStep(java.util.regex.Pattern.compile("the step of the anchor at redo point (\\S+)"), redo);
    }

    private void awaitStep(java.util.regex.Pattern step, dev.zenith.wal.Lsn atLeast) throws InterruptedException {
        long deadline = System.nanoTime() + 240_000_000_000L;
        while (true) {
            java.util.regex.Matcher m = step.matcher(log());
            while (m.find()) {
                if (!dev.zenith.wal.Lsn.parse(m.group(1)).isBefore(atLeast)) {
                    return;
                }
            }
            if (System.nanoTime() > deadline) {
                throw new AssertionError("nothing materialized at " + atLeast + " in 4 minutes:\n" + log());
            }
            Thread.sleep(200);
        }
    }

    public String log() {
        try {
            return Files.readString(home.resolve("zenith.log"));
        } catch (IOException e) {
            return "";
        }
    }

    /** Whether {@link #blockedEventLoops()} leaves out what {@link Starvation} explains (a test of the check says no). */
    public boolean forgiveStarvation = true;

    /**
     * The daemon log's reports of blocked event loops ({@link BlockedThreads}: a daemon run as a process, at
     * Vert.x's limit, 2 s; an in-process one fails its test through {@link CheckedVertx}), each with the
     * stack it was stuck in. Reports from a start of the process ({@link ZenithDaemon#LOG_STARTING}) until it
     * listens ({@link ZenithDaemon#LOG_LISTENING}) are left out: a cold JVM loads its classes then, which on a
     * busy machine alone can take that long. So are those {@link Starvation} explains. Whoever started the daemon (startProcess, the launcher).
     */
    public List<String> blockedEventLoops() {
        List<String> found = new ArrayList<>();
        String[] lines = log().split("\n");
        boolean starting = false;
        for (int i = 0; i < lines.length; i++) {
            if (lines[i].contains(ZenithDaemon.LOG_STARTING)) {
                starting = true;
            } else if (lines[i].contains(ZenithDaemon.LOG_LISTENING)) {
                starting = false;
            }
            int at = lines[i].indexOf(BlockedThreads.EVENT_LOOP_BLOCKED);
            if (at >= 0 && !starting) {
                StringBuilder report = new StringBuilder(lines[i].substring(at));
                for (int k = i + 1; k < lines.length && lines[k].startsWith("\tat "); k++) {
                    report.append('\n').append(lines[k]);
                }
                if (!forgiveStarvation || !Starvation.explains(report.toString())) {
                    found.add(report.toString());
                }
            }
        }
        return found;
    }

    /** Stops the daemon and deletes its home; then fails if the daemon's log reports a blocked event loop. */
    @Override
    public void close() throws Exception {
        if (inProcess != null) {
            inProcess.shutdown().toCompletionStage().toCompletableFuture().get(5, TimeUnit.MINUTES);
            vertx.close().toCompletionStage().toCompletableFuture().get(1, TimeUnit.MINUTES);
        }
        if (process != null && process.isAlive()) {
            try {
                request("POST", "/shutdown", null);
                process.waitFor(3, TimeUnit.MINUTES);
            } catch (IOException e) {
                // fall through to the kill
            }
            process.destroyForcibly();
        }
        List<String> blocked = blockedEventLoops();
        stopStrayComputes();
        PgCluster.deleteTree(home);
        if (!blocked.isEmpty()) {
            throw new AssertionError("the daemon blocked an event loop " + blocked.size() + " time(s); the first:\n"
                    + blocked.get(0));
        }
    }

    /** Any compute left running (a test that failed midway) is stopped so it does not outlive the test. */
    private void stopStrayComputes() {
        Path pgs = home.resolve("pgs");
        if (!Files.isDirectory(pgs)) {
            return;
        }
        try (var dirs = Files.list(pgs)) {
            for (Path d : dirs.toList()) {
                if (Files.exists(d.resolve("postmaster.pid"))) {
                    try {
                        PgCluster.ProcessRunner.run(pg.command("pg_ctl", "-D", d.toString(), "-m", "immediate", "-w", "stop"),
                                Path.of("/tmp"));
                    } catch (IOException e) {
                        // already gone
                    }
                }
            }
        } catch (IOException e) {
            // nothing to clean
        }
    }
}
