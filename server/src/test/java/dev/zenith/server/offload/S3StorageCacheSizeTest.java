package dev.zenith.server.offload;

import dev.zenith.server.testing.CliRun;
import dev.zenith.server.testing.DaemonFixture;
import dev.zenith.testkit.S3ProxyExtension;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.net.http.HttpResponse;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * An s3 storage's own cache bound ({@code cache_size} / {@code --cache-size}): kept with the storage across a
 * restart, the one its offload uses instead of {@code offload.cache_bytes} (which stays the default for the
 * others), and bad sizes refused with nothing attached. Eviction itself: {@link S3StorageCacheBoundTest}.
 */
@Tag("s3")
class S3StorageCacheSizeTest {
    static final long DEFAULT = 64L << 20;
    @RegisterExtension
    static final S3ProxyExtension proxy = new S3ProxyExtension("zen");

    static String body(String name, String prefix, String cacheSize) {
        return new JsonObject(S3TestStorages.attachBody(name, "s3://zen/" + prefix, proxy.server().endpoint().toString()))
                .put("cache_size", cacheSize).encode();
    }

    static JsonObject show(DaemonFixture d, String name) throws Exception {
        return (JsonObject) d.ok(200, "GET", "/storages/" + name, null);
    }

    /** The bound the storage's offload uses ({@code null}: none). */
    static Long offloadBound(DaemonFixture d, String name) throws Exception {
        return show(d, name).getJsonObject("offload").getLong("cache_bytes");
    }

    @Test
    void aStoragesOwnCacheSizeIsKeptAndUsedByItsOffload() throws Exception {
        try (DaemonFixture d = new DaemonFixture()) {
            d.offloadSettings.put("cache_bytes", DEFAULT);
            d.startInProcess();
            JsonObject own = (JsonObject) d.ok(201, "PUT", "/storages", body("own", "own", "512MiB"));
            assertEquals(512L << 20, own.getJsonObject("remote").getLong("cache_bytes"), own.encode());
            d.ok(201, "PUT", "/storages", body("unbounded", "unbounded", "0"));
            S3TestStorages.attach(d, proxy.server(), "usual", "usual");

            assertEquals(512L << 20, offloadBound(d, "own"));
            assertNull(offloadBound(d, "unbounded"), "0: no bound, whatever the default");
            assertEquals(DEFAULT, offloadBound(d, "usual"), "without a size: offload.cache_bytes");

            d.restartInProcess();
            JsonObject again = show(d, "own");
            assertEquals(512L << 20, again.getJsonObject("remote").getLong("cache_bytes"), again.encode());
            assertEquals(512L << 20, again.getJsonObject("offload").getLong("cache_bytes"), again.encode());
            assertNull(offloadBound(d, "unbounded"));
            assertEquals(DEFAULT, offloadBound(d, "usual"));
        }
    }

    @Test
    void badCacheSizesAreRefusedAndAttachNothing() throws Exception {
        try (DaemonFixture d = new DaemonFixture().startInProcess()) {
            JsonArray before = (JsonArray) d.ok(200, "GET", "/storages", null);
            for (String bad : new String[]{"-1", "garbage", "12XB", "1.5GiB", "", "99999999999999999999GiB", "9000000000TiB"}) {
                HttpResponse<String> r = d.request("PUT", "/storages", body("bad", "bad", bad));
                assertEquals(400, r.statusCode(), bad + ": " + r.body());
                assertTrue(r.body().contains("a size is"), r.body());
            }
            for (String small : new String[]{"1", "12MiB", "16383KiB"}) {
                HttpResponse<String> r = d.request("PUT", "/storages", body("bad", "bad", small));
                assertEquals(400, r.statusCode(), small + ": " + r.body());
                assertTrue(r.body().contains("at least 16 MiB"), r.body());
            }
            HttpResponse<String> number = d.request("PUT", "/storages", new JsonObject(body("bad", "bad", "1")).put("cache_size", 1).encode());
            assertEquals(400, number.statusCode(), number.body());
            HttpResponse<String> nativeOne = d.request("PUT", "/storages", new JsonObject().put("name", "bad")
                    .put("path", d.home.resolve("bad").toString()).put("cache_size", "1GiB").encode());
            assertEquals(400, nativeOne.statusCode(), nativeOne.body());
            assertTrue(nativeOne.body().contains("cache_size are for s3 storages"), nativeOne.body());
            assertEquals(before, d.ok(200, "GET", "/storages", null));
        }
    }

    @Test
    void theCliAttachesWithACacheSizeAndRefusesABadOne() throws Exception {
        try (DaemonFixture d = new DaemonFixture().startInProcess()) {
            System.setProperty("zenith.home", d.home.toString());
            try {
                String endpoint = proxy.server().endpoint().toString();
                CliRun bad = CliRun.inProcess("storage", "attach", "cli", "--type", "s3", "--path", "s3://zen/cli",
                        "--endpoint", endpoint, "--cache-size", "lots");
                assertTrue(bad.code() != 0, bad.toString());
                assertTrue(bad.err().contains("a size is a whole number and a unit"), bad.err());
                assertEquals(404, d.request("GET", "/storages/cli", null).statusCode());

                CliRun ok = CliRun.inProcess("storage", "attach", "cli", "--type", "s3", "--path", "s3://zen/cli",
                        "--endpoint", endpoint, "--cache-size", "2GiB");
                assertEquals(0, ok.code(), ok.toString());
                CliRun shown = CliRun.inProcess("storage", "show", "cli", "--json");
                assertEquals(0, shown.code(), shown.toString());
                JsonObject s = new JsonObject(shown.out());
                assertEquals(2L << 30, s.getJsonObject("remote").getLong("cache_bytes"), s.encode());
                assertEquals(2L << 30, s.getJsonObject("offload").getLong("cache_bytes"), s.encode());
            } finally {
                System.clearProperty("zenith.home");
            }
        }
    }
}
