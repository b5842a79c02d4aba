package dev.zenith.server.config;

import io.vertx.config.ConfigRetriever;
import io.vertx.config.ConfigRetrieverOptions;
import io.vertx.config.ConfigStoreOptions;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * The daemon's settings: {@code conf/zenith.json} read with Vert.x Config, then environment overrides.
 * Every setting has a default, so {@code zenith start} needs no flags.
 *
 * <p>Environment overrides: {@link #ENVIRONMENT_KEYS}. A top-level key of the file that is neither a
 * section nor one of those is an error, as is an unknown key inside a section. The config file itself is found at
 * the {@code zenith.conf} system property (the launcher sets it from {@code ZENITH_CONF}), else {@code ZENITH_CONF}, else
 * {@code conf/zenith.json} in the working directory.
 */
public record ZenithConfig(
        Path home,
        String httpHost,
        int httpPort,
        Path tlsCert,
        Path tlsKey,
        String pgHost,
        int pgPort,
        int computeFirstPort,
        Path computesDir,
        Map<String, String> computeSettings,
        long statusIntervalMs,
        int maxBatchBytes,
        long indexIntervalMs,
        String replicationUser,
        String replicationPassword,
        long authenticationTimeoutMs,
        PageServiceSettings pageService,
        PageIndexSettings pageIndex,
        int maxHeapMb,
        int maxDirectMemoryMb,
        dev.zenith.server.offload.OffloadSettings offload,
        RedoConfig redo,
        dev.zenith.server.follower.FollowerSettings follower) {

    /**
     * The page service on the pg port: how long a request waits for WAL it needs (Neon:
     * wait_lsn_timeout, 300 s), how many requests of one connection are in progress before it stops
     * reading more (backpressure), the I/O threads that read the store for it, the threads that read
     * what must be downloaded first (an s3 storage's evicted values), so that no I/O thread waits for S3, and how
     * long an I/O thread polls for its next request before it blocks (0: never; a client at queue depth 1 sends it
     * a round trip after our answer).
     */
    public record PageServiceSettings(long waitLsnTimeoutMs, int maxPipelinedRequests, int workers, int fetchThreads,
                                      int spinMicros) {
    }

    /**
     * The background writer of each storage's page index (block changes, relation sizes, databases):
     * how often it looks for WAL not indexed yet, and how much WAL one LMDB transaction of it covers.
     */
    public record PageIndexSettings(long intervalMs, long batchBytes) {
    }

    /**
     * Sparse redo runs (background materialization and GetPage): where their scratch data directories
     * go (emptied at every start), each run's shared_buffers, how long its recovery may take, and how
     * many run at once (background steps' {@code concurrency}, reads' {@code readConcurrency}: slots of
     * their own, so a GetPage never waits behind a step); whether rebuilt data directories start from the newest materialized anchor
     * (true) or always from the newest image (false: all WAL since the last clean stop is replayed);
     * whether running primaries' timelines are materialized in the background after each anchor (false:
     * anchors are still captured, but pages come only from images and on-demand runs; for measuring
     * what materialization costs, bench/materialize-cost.sh); whether each materialized timeline keeps a ready data
     * directory at its newest materialized anchor under its storage's directory, which a start there renames into
     * place instead of writing one (true; costs about the database's size on disk per timeline).
     */
    public record RedoConfig(Path scratchDir, String sharedBuffers, long timeoutSeconds, int concurrency,
                             boolean startFromAnchors, boolean materialize, boolean readyDirectories,
                             int readConcurrency) {
    }

    /** Environment variables that override the file; nothing else in the environment is read. */
    static final List<String> ENVIRONMENT_KEYS = List.of("ZENITH_HOME", "ZENITH_HTTP_PORT", "ZENITH_PG_PORT",
            "ZENITH_COMPUTE_FIRST_PORT", "ZENITH_COMPUTES_DIR", "ZENITH_REPLICATION_USER", "ZENITH_REPLICATION_PASSWORD");
    /** PostgreSQL settings every compute gets from zenith (ComputeManager): computes.settings may not name them. */
    static final List<String> MANAGED_COMPUTE_SETTINGS = List.of("listen_addresses", "port", "unix_socket_directories",
            "wal_level", "synchronous_standby_names", "synchronous_commit", "fsync", "full_page_writes", "logging_collector");
    private static final List<String> SECTIONS = List.of("home", "http", "pg", "computes", "wal_receiver", "page_service", "page_index",
            "daemon", "offload", "redo", "follower");
    /**
     * The daemon's memory bound, read here so a bad value stops the start naming it; the launcher (zenith
     * start) turns it into the JVM's -Xmx and -XX:MaxDirectMemorySize. 0: the JVM's default (a quarter of RAM).
     */
    public static final int DEFAULT_MAX_HEAP_MB = 256;
    public static final int DEFAULT_MAX_DIRECT_MEMORY_MB = 128;

    public static Future<ZenithConfig> load(Vertx vertx) {
        ConfigRetrieverOptions options = new ConfigRetrieverOptions().setScanPeriod(0);
        Path file = configFile();
        if (Files.exists(file)) {
            options.addStore(new ConfigStoreOptions().setType("file").setFormat("json")
                    .setConfig(new JsonObject().put("path", file.toAbsolutePath().toString())));
        }
        // Only our own variables: the rest of the environment would share the file's top level and
        // hide a misspelt top-level key there (e.g. "htpp") among PATH, HOME and the like.
        options.addStore(new ConfigStoreOptions().setType("env")
                .setConfig(new JsonObject().put("keys", new JsonArray(ENVIRONMENT_KEYS))));
        ConfigRetriever retriever = ConfigRetriever.create(vertx, options);
        // Without a cause: the daemon prints the innermost message, and this one names the file.
        return retriever.getConfig()
                .recover(e -> Future.failedFuture(new IllegalArgumentException(
                        "cannot read " + file.toAbsolutePath() + ": " + innermost(e).getMessage())))
                .map(json -> {
                    try {
                        return fromJson(json);
                    } catch (IllegalArgumentException e) {
                        throw new IllegalArgumentException(e.getMessage() + " (" + file.toAbsolutePath() + " or the environment)");
                    }
                }).eventually(() -> {
            retriever.close();
            return Future.succeededFuture();
        });
    }

    private static Throwable innermost(Throwable t) {
        while (t.getCause() != null && t.getCause() != t) {
            t = t.getCause();
        }
        return t;
    }

    static Path configFile() {
        // The property first: the launcher sets it from ZENITH_CONF, and a test sets its own whatever the shell exported.
        String prop = System.getProperty("zenith.conf");
        if (prop != null && !prop.isBlank()) {
            return Path.of(prop);
        }
        String env = System.getenv("ZENITH_CONF");
        if (env != null && !env.isBlank()) {
            return Path.of(env);
        }
        return Path.of("conf", "zenith.json");
    }

    /** Builds the typed config from the merged JSON (file keys, then flat env keys that override them). */
    public static ZenithConfig fromJson(JsonObject json) {
        Set<String> unknown = new TreeSet<>(json.fieldNames());
        unknown.removeAll(SECTIONS);
        unknown.removeAll(ENVIRONMENT_KEYS);
        if (!unknown.isEmpty()) {
            throw new IllegalArgumentException("unknown setting(s) " + unknown + "; the file has " + SECTIONS);
        }
        ConfigSection http = ConfigSection.of(json, "http", "host", "port", "tls_cert", "tls_key");
        ConfigSection pg = ConfigSection.of(json, "pg", "host", "port", "replication_user", "replication_password",
                "authentication_timeout_ms");
        ConfigSection computes = ConfigSection.of(json, "computes", "first_port", "dir", "settings");
        ConfigSection receiver = ConfigSection.of(json, "wal_receiver", "status_interval_ms", "max_batch_bytes", "index_interval_ms");
        ConfigSection pages = ConfigSection.of(json, "page_service", "wait_lsn_timeout_ms", "max_pipelined_requests", "workers",
                "fetch_threads", "spin_us");
        ConfigSection index = ConfigSection.of(json, "page_index", "interval_ms", "batch_bytes");
        ConfigSection daemon = ConfigSection.of(json, "daemon", "max_heap_mb", "max_direct_memory_mb");
        ConfigSection offload = ConfigSection.of(json, "offload", "interval_ms", "piece_bytes", "base_interval_ms", "stop_wait_ms",
                "gc_interval_ms", "gc_grace_ms", "keep_manifests", "cache_bytes");
        ConfigSection redo = ConfigSection.of(json, "redo", "scratch_dir", "shared_buffers", "timeout_seconds", "concurrency",
                "start_from_anchors", "materialize", "ready_directories", "read_concurrency");
        ConfigSection follower = ConfigSection.of(json, "follower", "enabled", "idle_seconds", "wait_ms", "shared_buffers");

        Object homeValue = json.getValue("home");
        if (homeValue != null && !(homeValue instanceof String)) {
            throw new IllegalArgumentException("home must be a string (a directory), got " + homeValue);
        }
        Path home = Path.of(string(json, "ZENITH_HOME", homeValue == null ? ".zenith" : (String) homeValue))
                .toAbsolutePath().normalize();
        String computesDir = string(json, "ZENITH_COMPUTES_DIR", computes.string("dir", ""));
        Map<String, String> settings = new LinkedHashMap<>();
        computes.object("settings").forEach(e -> {
            if (MANAGED_COMPUTE_SETTINGS.contains(e.getKey().toLowerCase(java.util.Locale.ROOT))) {
                throw new IllegalArgumentException("computes.settings." + e.getKey() + " is set by zenith for every compute"
                        + " (durability and its own connections rest on it); zenith sets " + MANAGED_COMPUTE_SETTINGS);
            }
            settings.put(e.getKey(), String.valueOf(e.getValue()));
        });
        String httpHost = http.string("host", "127.0.0.1");
        Path tlsCert = optionalPath(http.string("tls_cert", ""));
        Path tlsKey = optionalPath(http.string("tls_key", ""));
        checkHttpExposure(httpHost, tlsCert, tlsKey);
        return new ZenithConfig(
                home,
                httpHost,
                port(json, "ZENITH_HTTP_PORT", (int) http.number("port", 3000, 0, 65535)),
                tlsCert,
                tlsKey,
                pg.string("host", "127.0.0.1"),
                port(json, "ZENITH_PG_PORT", (int) pg.number("port", 6400, 0, 65535)),
                port(json, "ZENITH_COMPUTE_FIRST_PORT", (int) computes.number("first_port", 55432, 1, 65535)),
                computesDir.isBlank() ? home.resolve("pgs") : Path.of(computesDir).toAbsolutePath().normalize(),
                Map.copyOf(settings),
                receiver.number("status_interval_ms", 1000, 1, Integer.MAX_VALUE),
                // at least a WAL page; a journal write is at most this big
                (int) receiver.number("max_batch_bytes", 4 << 20, 8192, 1 << 30),
                // LMDB commits of acknowledged WAL at most this often (or per max_batch_bytes), so they
                // do not compete with the journal's syncs on the acknowledgement path.
                receiver.number("index_interval_ms", 200, 0, Integer.MAX_VALUE),
                // The WAL service on pgPort authenticates this one user with SCRAM-SHA-256; without a password
                // configured, the daemon generates one at its first start (ZENITH_HOME/replication-password).
                string(json, "ZENITH_REPLICATION_USER", pg.string("replication_user", "zenith")),
                string(json, "ZENITH_REPLICATION_PASSWORD", pg.string("replication_password", null)),
                // As PostgreSQL's authentication_timeout: a client that has not logged in by then is dropped.
                pg.number("authentication_timeout_ms", 60_000, 1, Integer.MAX_VALUE),
                new PageServiceSettings(pages.number("wait_lsn_timeout_ms", 60_000, 1, Integer.MAX_VALUE),
                        (int) pages.number("max_pipelined_requests", 256, 1, 65_536),
                        (int) pages.number("workers", 4, 1, 256),
                        // Each waits for a download (a whole S3 round trip, or retries while S3 is down), not a core.
                        (int) pages.number("fetch_threads", 8, 1, 256),
                        // one thread at a time, and only while requests come within it (BoundedSpin)
                        (int) pages.number("spin_us", 50, 0, 10_000)),
                // Off the acknowledgement path: seconds behind the WAL is fine (questions beyond it catch up).
                new PageIndexSettings(index.number("interval_ms", 1000, 1, Integer.MAX_VALUE),
                        index.number("batch_bytes", 16 << 20, 8192, 1L << 30)),
                // Measured (bench/daemon-memory.sh): the largest live heap over imports, materializations,
                // diffs and base backups of a scale 10 database stays under 100 MB.
                (int) daemon.numberOrZero("max_heap_mb", DEFAULT_MAX_HEAP_MB, 64, 1 << 20),
                (int) daemon.numberOrZero("max_direct_memory_mb", DEFAULT_MAX_DIRECT_MEMORY_MB, 16, 1 << 20),
                // s3 storages: WAL goes up every interval (pieces of at most piece_bytes), the rest as a base
                new dev.zenith.server.offload.OffloadSettings(
                        java.time.Duration.ofMillis(offload.number("interval_ms", 1000, 10, 3_600_000)),
                        (int) offload.number("piece_bytes", 16 << 20, 8192, 1 << 30),
                        java.time.Duration.ofMillis(offload.number("base_interval_ms", 10_000, 0, Integer.MAX_VALUE)),
                        java.time.Duration.ofMillis(offload.number("stop_wait_ms", 600_000, 0, Integer.MAX_VALUE)),
                        java.time.Duration.ofMillis(offload.number("gc_interval_ms", 600_000, 0, Integer.MAX_VALUE)),
                        java.time.Duration.ofMillis(offload.number("gc_grace_ms", 600_000, 0, Integer.MAX_VALUE)),
                        (int) offload.number("keep_manifests", 128, 1, 1 << 20),
                        offload.number("cache_bytes", 0, 0, Long.MAX_VALUE)),
                new RedoConfig(redo.string("scratch_dir", "").isBlank() ? home.resolve("redo")
                        : Path.of(redo.string("scratch_dir", "")).toAbsolutePath().normalize(),
                        redo.string("shared_buffers", "32MB"), redo.number("timeout_seconds", 600, 1, 86_400),
                        (int) redo.number("concurrency", 1, 1, 64), redo.bool("start_from_anchors", true),
                        redo.bool("materialize", true), redo.bool("ready_directories", true),
                        (int) redo.number("read_concurrency", 1, 1, 64)),
                new dev.zenith.server.follower.FollowerSettings(follower.bool("enabled", true),
                        java.time.Duration.ofSeconds(follower.number("idle_seconds", 120, 1, 86_400)),
                        java.time.Duration.ofMillis(follower.number("wait_ms", 200, 0, 10_000)),
                        follower.string("shared_buffers", "128kB")));
    }

    /**
     * Off loopback, every machine that can reach the address reaches the API: only with TLS (the token,
     * which every request needs anyway, must not cross a network in clear).
     */
    private static void checkHttpExposure(String host, Path tlsCert, Path tlsKey) {
        if ((tlsCert == null) != (tlsKey == null)) {
            throw new IllegalArgumentException("http.tls_cert and http.tls_key go together (PEM files: certificate and its key)");
        }
        boolean loopback;
        try {
            loopback = java.net.InetAddress.getByName(host).isLoopbackAddress();
        } catch (java.net.UnknownHostException e) {
            throw new IllegalArgumentException("http.host '" + host + "' is not an address of this machine: " + e.getMessage());
        }
        if (!loopback && tlsCert == null) {
            throw new IllegalArgumentException("http.host '" + host + "' is not a loopback address: other machines would"
                    + " reach the REST API, so it needs TLS; set http.tls_cert and http.tls_key to PEM files (every"
                    + " request needs the token of ZENITH_HOME/api-token too)");
        }
    }

    private static Path optionalPath(String text) {
        return text.isBlank() ? null : Path.of(text).toAbsolutePath().normalize();
    }

    /** The same settings with the replication password the daemon generated (none was configured). */
    public ZenithConfig withReplicationPassword(String password) {
        return new ZenithConfig(home, httpHost, httpPort, tlsCert, tlsKey, pgHost, pgPort, computeFirstPort, computesDir,
                computeSettings, statusIntervalMs, maxBatchBytes, indexIntervalMs, replicationUser, password,
                authenticationTimeoutMs, pageService, pageIndex, maxHeapMb, maxDirectMemoryMb, offload, redo, follower);
    }

    /** Without the replication password: settings get logged, secrets never. */
    @Override
    public String toString() {
        return "ZenithConfig[home=" + home + ", http=" + httpHost + ":" + httpPort + (tlsCert == null ? "" : " (TLS)")
                + ", pg=" + pgHost + ":" + pgPort + ", replicationUser=" + replicationUser + ", computes=" + computesDir + "]";
    }

    private static String string(JsonObject json, String envKey, String fallback) {
        Object v = json.getValue(envKey);
        return v == null || v.toString().isBlank() ? fallback : v.toString();
    }

    private static int port(JsonObject json, String envKey, int fallback) {
        Object v = json.getValue(envKey);
        if (v == null) {
            return fallback;
        }
        try {
            int p = Integer.parseInt(v.toString().trim());
            if (p < 0 || p > 65535) {
                throw new NumberFormatException();
            }
            return p;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(envKey + " must be a TCP port number, got '" + v + "'");
        }
    }

    public Path logFile() {
        return home.resolve("zenith.log");
    }

    public Path pidFile() {
        return home.resolve("zenith.pid");
    }

    /** Written once the daemon listens: how the CLI finds it (ports, pid, log). */
    public Path daemonFile() {
        return home.resolve("daemon.json");
    }

    /** {@code https} when the REST API is served over TLS ({@link #tlsCert}), else {@code http}. */
    public String httpScheme() {
        return tlsCert == null ? "http" : "https";
    }

    /** The REST API's bearer token, generated at the first start (0600, the token on its first line). */
    public Path apiTokenFile() {
        return home.resolve("api-token");
    }

    /** The replication password generated at the first start when none is configured (0600). */
    public Path replicationPasswordFile() {
        return home.resolve("replication-password");
    }

    /**
     * PostgreSQL's password file for the owner's clients (0600): every pg's port and the replication port
     * with their passwords; the connection strings zenith prints name it ({@code passfile=}).
     */
    public Path passFile() {
        return home.resolve("pgpass");
    }

    public Path storagesFile() {
        return home.resolve("storages.json");
    }

    /** Where base backups are laid out while they stream; emptied at every start. */
    public Path scratchDir() {
        return home.resolve("tmp");
    }

    /** s3 storages' local caches (LMDB and WAL journal), one directory per storage name. */
    public Path remoteCachesDir() {
        return home.resolve("s3-cache");
    }

    /** Where s3 storages' bases are copied while they upload. */
    public Path offloadScratchDir() {
        return home.resolve("s3-scratch");
    }

    public Path defaultStoragePath() {
        return home.resolve("storages").resolve("local");
    }
}
