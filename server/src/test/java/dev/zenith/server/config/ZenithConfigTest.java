package dev.zenith.server.config;

import dev.zenith.server.testing.CheckedVertx;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** conf/zenith.json as read by the daemon: defaults, the file, environment overrides, and errors that name the setting. */
class ZenithConfigTest {
    private static final Path REPO_CONF = Path.of("..", "conf", "zenith.json");

    @Test
    void everySettingHasADefault() {
        ZenithConfig c = ZenithConfig.fromJson(new JsonObject());
        assertEquals(3000, c.httpPort());
        assertEquals(6400, c.pgPort());
        assertEquals(55432, c.computeFirstPort());
        assertEquals(Path.of(".zenith").toAbsolutePath().normalize(), c.home());
        assertEquals(c.home().resolve("pgs"), c.computesDir());
        assertEquals(60_000, c.authenticationTimeoutMs());
        assertEquals(new ZenithConfig.PageServiceSettings(60_000, 256, 4, 8, 50), c.pageService());
        assertEquals(256, c.maxHeapMb());
        assertEquals(128, c.maxDirectMemoryMb());
    }

    @Test
    void redoRunsHaveDefaultsAndRefuseBadValues() {
        ZenithConfig c = ZenithConfig.fromJson(new JsonObject().put("home", "/tmp/zh"));
        assertEquals(java.nio.file.Path.of("/tmp/zh/redo"), c.redo().scratchDir());
        assertEquals("32MB", c.redo().sharedBuffers());
        assertEquals(600, c.redo().timeoutSeconds());
        assertEquals(1, c.redo().concurrency());
        assertEquals(true, c.redo().startFromAnchors());
        assertEquals(true, c.redo().materialize());
        assertEquals(true, c.redo().readyDirectories());
        assertEquals(1, c.redo().readConcurrency());
        ZenithConfig set = ZenithConfig.fromJson(new JsonObject().put("redo", new JsonObject().put("scratch_dir", "/tmp/r")
                .put("concurrency", 2).put("shared_buffers", "64MB").put("timeout_seconds", 30)
                .put("start_from_anchors", false).put("materialize", false).put("ready_directories", false)
                .put("read_concurrency", 3)));
        assertEquals(new ZenithConfig.RedoConfig(java.nio.file.Path.of("/tmp/r"), "64MB", 30, 2, false, false, false, 3), set.redo());
        rejected(new JsonObject().put("redo", new JsonObject().put("ready_directories", "no")),
                "redo.ready_directories must be true or false");
        rejected(new JsonObject().put("redo", new JsonObject().put("materialize", 1)), "redo.materialize must be true or false");
        rejected(new JsonObject().put("redo", new JsonObject().put("start_from_anchors", "yes")),
                "redo.start_from_anchors must be true or false");
        rejected(new JsonObject().put("redo", new JsonObject().put("concurrency", 0)), "redo.concurrency must be");
        rejected(new JsonObject().put("redo", new JsonObject().put("read_concurrency", 0)), "redo.read_concurrency must be");
        rejected(new JsonObject().put("redo", new JsonObject().put("workers", 2)), "unknown setting(s) [redo.workers]");
    }

    @Test
    void theRepositorysFileIsWhatTheDefaultsSay() throws Exception {
        ZenithConfig fromFile = ZenithConfig.fromJson(new JsonObject(Files.readString(REPO_CONF)));
        ZenithConfig defaults = ZenithConfig.fromJson(new JsonObject());
        assertEquals(defaults.httpPort(), fromFile.httpPort());
        assertEquals(defaults.pgPort(), fromFile.pgPort());
        assertEquals(defaults.maxBatchBytes(), fromFile.maxBatchBytes());
        assertEquals(defaults.authenticationTimeoutMs(), fromFile.authenticationTimeoutMs());
        assertEquals(defaults.pageService(), fromFile.pageService());
        assertEquals(defaults.maxHeapMb(), fromFile.maxHeapMb());
        assertEquals(defaults.maxDirectMemoryMb(), fromFile.maxDirectMemoryMb());
        assertEquals("128MB", fromFile.computeSettings().get("shared_buffers"));
    }

    @Test
    void noReplicationPasswordIsConfiguredSoTheDaemonGeneratesOne() throws Exception {
        assertEquals(null, ZenithConfig.fromJson(new JsonObject()).replicationPassword());
        assertEquals(null, ZenithConfig.fromJson(new JsonObject(Files.readString(REPO_CONF))).replicationPassword(),
                "the repository's file does not set the old default 'zenith'");
        ZenithConfig set = ZenithConfig.fromJson(new JsonObject().put("ZENITH_REPLICATION_PASSWORD", "s3cret"));
        assertEquals("s3cret", set.replicationPassword());
        assertTrue(!set.toString().contains("s3cret"), "settings are logged, secrets never: " + set);
    }

    @Test
    void theRestApiLeavesLoopbackOnlyWithTls() {
        rejected(new JsonObject().put("http", new JsonObject().put("host", "0.0.0.0")),
                "http.host '0.0.0.0' is not a loopback address: other machines would reach the REST API, so it needs TLS;"
                        + " set http.tls_cert and http.tls_key");
        rejected(new JsonObject().put("http", new JsonObject().put("tls_cert", "/x/cert.pem")),
                "http.tls_cert and http.tls_key go together");
        ZenithConfig tls = ZenithConfig.fromJson(new JsonObject().put("http", new JsonObject().put("host", "0.0.0.0")
                .put("tls_cert", "/x/cert.pem").put("tls_key", "/x/key.pem")));
        assertEquals(Path.of("/x/cert.pem"), tls.tlsCert());
        assertEquals("localhost", ZenithConfig.fromJson(new JsonObject().put("http", new JsonObject().put("host", "localhost")))
                .httpHost(), "a loopback name needs no TLS");
    }

    @Test
    void environmentOverridesTheFile() {
        ZenithConfig c = ZenithConfig.fromJson(new JsonObject()
                .put("http", new JsonObject().put("port", 3100)).put("ZENITH_HTTP_PORT", 3200)
                .put("ZENITH_PG_PORT", "6500").put("ZENITH_HOME", "/tmp/elsewhere"));
        assertEquals(3200, c.httpPort());
        assertEquals(6500, c.pgPort());
        assertEquals(Path.of("/tmp/elsewhere"), c.home());
    }

    @Test
    void badSettingsAreNamed() {
        rejected(new JsonObject().put("http", new JsonObject().put("port", "abc")), "http.port must be a whole number from 0 to 65535, got \"abc\"");
        rejected(new JsonObject().put("http", new JsonObject().put("port", 70000)), "http.port must be a whole number");
        rejected(new JsonObject().put("http", new JsonObject().put("port", 1.5)), "http.port must be a whole number");
        rejected(new JsonObject().put("http", "3000"), "http must be an object");
        rejected(new JsonObject().put("http", new JsonObject().put("prot", 1)), "unknown setting(s) [http.prot]");
        rejected(new JsonObject().put("wal_receiver", new JsonObject().put("status_interval_ms", 0)), "wal_receiver.status_interval_ms");
        rejected(new JsonObject().put("wal_receiver", new JsonObject().put("max_batch_bytes", 100)), "wal_receiver.max_batch_bytes");
        rejected(new JsonObject().put("pg", new JsonObject().put("authentication_timeout_ms", -1)), "pg.authentication_timeout_ms");
        rejected(new JsonObject().put("page_service", new JsonObject().put("max_pipelined_requests", 0)),
                "page_service.max_pipelined_requests must be a whole number from 1 to 65536");
        rejected(new JsonObject().put("page_service", new JsonObject().put("wait_lsn", 5)), "unknown setting(s) [page_service.wait_lsn]");
        rejected(new JsonObject().put("pg", new JsonObject().put("replication_user", 7)), "pg.replication_user must be a string");
        rejected(new JsonObject().put("computes", new JsonObject().put("settings", "fsync=off")), "computes.settings must be an object");
        rejected(new JsonObject().put("home", 5), "home must be a string");
        rejected(new JsonObject().put("daemon", new JsonObject().put("max_heap_mb", 10)),
                "daemon.max_heap_mb must be 0 (the JVM's default) or a whole number from 64 to");
        rejected(new JsonObject().put("daemon", new JsonObject().put("max_heap_mb", "1g")), "daemon.max_heap_mb must be");
        rejected(new JsonObject().put("daemon", new JsonObject().put("max_heap", 512)), "unknown setting(s) [daemon.max_heap]");
        assertEquals(0, ZenithConfig.fromJson(new JsonObject().put("daemon", new JsonObject().put("max_heap_mb", 0))).maxHeapMb());
        rejected(new JsonObject().put("ZENITH_PG_PORT", "x"), "ZENITH_PG_PORT must be a TCP port number");
        rejected(new JsonObject().put("computes", new JsonObject().put("settings", new JsonObject().put("FSYNC", "on"))),
                "computes.settings.FSYNC is set by zenith for every compute");
        rejected(new JsonObject().put("computes", new JsonObject().put("settings", new JsonObject().put("synchronous_commit", "off"))),
                "computes.settings.synchronous_commit is set by zenith");
        rejected(new JsonObject().put("htpp", new JsonObject().put("port", 3100)), "unknown setting(s) [htpp]");
    }

    @Test
    void aFileThatIsNotJsonIsNamed() throws Exception {
        Path file = Files.createTempFile("zenith-conf", ".json");
        Files.writeString(file, "{\"http\": {\"port\": 3000}");
        System.setProperty("zenith.conf", file.toString());
        Vertx vertx = CheckedVertx.create();
        try {
            ExecutionException e = assertThrows(ExecutionException.class,
                    () -> ZenithConfig.load(vertx).toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS));
            assertTrue(e.getCause().getMessage().startsWith("cannot read " + file.toAbsolutePath() + ": "), e.getCause().getMessage());
        } finally {
            System.clearProperty("zenith.conf");
            vertx.close();
            Files.delete(file);
        }
    }

    @Test
    void aMisspeltSectionInTheFileIsNamedWhileTheRestOfTheEnvironmentIsIgnored() throws Exception {
        Path file = Files.createTempFile("zenith-conf", ".json");
        Vertx vertx = CheckedVertx.create();
        System.setProperty("zenith.conf", file.toString());
        try {
            // PATH, HOME and the rest of this process's environment are not settings, so they are not unknown ones.
            Files.writeString(file, "{\"wal_receiver\": {\"status_interval_ms\": 1234}}");
            ZenithConfig c = ZenithConfig.load(vertx).toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
            assertEquals(1234, c.statusIntervalMs());

            Files.writeString(file, "{\"htpp\": {\"port\": 3100}}");
            ExecutionException e = assertThrows(ExecutionException.class,
                    () -> ZenithConfig.load(vertx).toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS));
            assertTrue(e.getCause().getMessage().startsWith("unknown setting(s) [htpp]"), e.getCause().getMessage());
            assertTrue(e.getCause().getMessage().contains(file.toAbsolutePath().toString()), e.getCause().getMessage());
        } finally {
            System.clearProperty("zenith.conf");
            vertx.close();
            Files.delete(file);
        }
    }

    private static void rejected(JsonObject json, String message) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ZenithConfig.fromJson(json));
        assertTrue(e.getMessage().contains(message), e.getMessage());
    }
}
