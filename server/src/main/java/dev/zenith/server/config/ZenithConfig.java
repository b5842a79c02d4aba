package dev.zenith.server.config;

import io.vertx.config.ConfigRetriever;
import io.vertx.config.ConfigRetrieverOptions;
import io.vertx.config.ConfigStoreOptions;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The daemon's settings: {@code conf/zenith.json} read with Vert.x Config, then environment overrides.
 * Every setting has a default, so {@code zenith start} needs no flags.
 *
 * <p>Environment overrides: {@code ZENITH_HOME}, {@code ZENITH_HTTP_PORT}, {@code ZENITH_PG_PORT},
 * {@code ZENITH_COMPUTE_FIRST_PORT}, {@code ZENITH_COMPUTES_DIR}. The config file itself is found at
 * {@code ZENITH_CONF}, else the {@code zenith.conf} system property the launcher sets, else
 * {@code conf/zenith.json} in the working directory.
 */
public record ZenithConfig(
        Path home,
        String httpHost,
        int httpPort,
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
        long authenticationTimeoutMs) {

    public static Future<ZenithConfig> load(Vertx vertx) {
        ConfigRetrieverOptions options = new ConfigRetrieverOptions().setScanPeriod(0);
        Path file = configFile();
        if (Files.exists(file)) {
            options.addStore(new ConfigStoreOptions().setType("file").setFormat("json")
                    .setConfig(new JsonObject().put("path", file.toAbsolutePath().toString())));
        }
        options.addStore(new ConfigStoreOptions().setType("env"));
        ConfigRetriever retriever = ConfigRetriever.create(vertx, options);
        return retriever.getConfig().map(ZenithConfig::fromJson).eventually(() -> {
            retriever.close();
            return Future.succeededFuture();
        });
    }

    static Path configFile() {
        String env = System.getenv("ZENITH_CONF");
        if (env != null && !env.isBlank()) {
            return Path.of(env);
        }
        String prop = System.getProperty("zenith.conf");
        if (prop != null && !prop.isBlank()) {
            return Path.of(prop);
        }
        return Path.of("conf", "zenith.json");
    }

    /** Builds the typed config from the merged JSON (file keys, then flat env keys that override them). */
    public static ZenithConfig fromJson(JsonObject json) {
        JsonObject http = json.getJsonObject("http", new JsonObject());
        JsonObject pg = json.getJsonObject("pg", new JsonObject());
        JsonObject computes = json.getJsonObject("computes", new JsonObject());
        JsonObject receiver = json.getJsonObject("wal_receiver", new JsonObject());

        Path home = Path.of(string(json, "ZENITH_HOME", json.getString("home", ".zenith"))).toAbsolutePath().normalize();
        String computesDir = string(json, "ZENITH_COMPUTES_DIR", computes.getString("dir", ""));
        Map<String, String> settings = new LinkedHashMap<>();
        computes.getJsonObject("settings", new JsonObject()).forEach(e -> settings.put(e.getKey(), String.valueOf(e.getValue())));
        return new ZenithConfig(
                home,
                http.getString("host", "127.0.0.1"),
                port(json, "ZENITH_HTTP_PORT", http.getInteger("port", 3000)),
                pg.getString("host", "127.0.0.1"),
                port(json, "ZENITH_PG_PORT", pg.getInteger("port", 6400)),
                port(json, "ZENITH_COMPUTE_FIRST_PORT", computes.getInteger("first_port", 55432)),
                computesDir.isBlank() ? home.resolve("pgs") : Path.of(computesDir).toAbsolutePath().normalize(),
                Map.copyOf(settings),
                receiver.getLong("status_interval_ms", 1000L),
                receiver.getInteger("max_batch_bytes", 4 << 20),
                // LMDB commits of acknowledged WAL at most this often (or per max_batch_bytes), so they
                // do not compete with the journal's syncs on the acknowledgement path.
                receiver.getLong("index_interval_ms", 200L),
                // The WAL service on pgPort authenticates this one user with SCRAM-SHA-256.
                string(json, "ZENITH_REPLICATION_USER", pg.getString("replication_user", "zenith")),
                string(json, "ZENITH_REPLICATION_PASSWORD", pg.getString("replication_password", "zenith")),
                // As PostgreSQL's authentication_timeout: a client that has not logged in by then is dropped.
                positive("pg.authentication_timeout_ms", pg.getLong("authentication_timeout_ms", 60_000L)));
    }

    private static long positive(String name, long value) {
        if (value <= 0) {
            throw new IllegalArgumentException(name + " must be positive, got " + value);
        }
        return value;
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

    public Path storagesFile() {
        return home.resolve("storages.json");
    }

    public Path defaultStoragePath() {
        return home.resolve("storages").resolve("local");
    }
}
