package dev.zenith.server.offload;

import dev.zenith.server.testing.DaemonFixture;
import dev.zenith.testkit.PgCluster;
import dev.zenith.testkit.S3ProxyExtension;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.Test;

import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code storage attach --type s3} against a real S3 server: refusals change nothing; the lease keeps one daemon per prefix. */
@Tag("s3")
class S3StorageAttachTest {
    @RegisterExtension
    static final S3ProxyExtension proxy = new S3ProxyExtension("zen");

    @Test
    void badPlacesAreRefusedChangingNothing() throws Exception {
        try (DaemonFixture d = new DaemonFixture().startInProcess()) {
            String registry = Files.readString(d.home.resolve("storages.json"));
            String endpoint = proxy.server().endpoint().toString();
            assertRefused(d, 400, S3TestStorages.attachBody("cloud", "s3://missing-bucket/p", endpoint), "does not exist");
            assertRefused(d, 400, S3TestStorages.attachBody("cloud", "s3:/zen", endpoint), "not an s3:// URL");
            assertRefused(d, 400, S3TestStorages.attachBody("cloud", "s3://zen/p", "ftp://x"), "not a URL");
            assertRefused(d, 400, S3TestStorages.attachBody("cloud", "s3://zen/p", "http://127.0.0.1:" + PgCluster.freePort()),
                    "cannot be reached");
            assertEquals(registry, Files.readString(d.home.resolve("storages.json")));
            assertEquals(1, ((JsonArray) d.ok(200, "GET", "/storages", null)).size());
            assertFalse(Files.exists(proxy.server().objectFile("zen", "p/lease")), "a refused attach leaves no lease");
        }
    }

    @Test
    void aPrefixIsHeldByOneDaemon() throws Exception {
        String endpoint = proxy.server().endpoint().toString();
        try (DaemonFixture a = new DaemonFixture().startInProcess(); DaemonFixture b = new DaemonFixture().startInProcess()) {
            JsonObject s = (JsonObject) a.ok(201, "PUT", "/storages", S3TestStorages.attachBody("cloud", "s3://zen/held", endpoint));
            assertEquals("s3", s.getString("type"));
            assertEquals("s3://zen/held", s.getJsonObject("remote").getString("url"));
            assertTrue(Path.of(s.getString("path")).startsWith(a.home), "its cache is under ZENITH_HOME: " + s);
            assertTrue(Files.exists(proxy.server().objectFile("zen", "held/lease")));
            // the same prefix again here, under another name
            assertRefused(a, 409, S3TestStorages.attachBody("cloud2", "s3://zen/held", endpoint), "already attached as storage 'cloud'");
            // another running daemon
            String registry = Files.readString(b.home.resolve("storages.json"));
            assertRefused(b, 409, S3TestStorages.attachBody("cloud", "s3://zen/held", endpoint), "in use by another running daemon");
            assertEquals(registry, Files.readString(b.home.resolve("storages.json")));

            JsonObject shown = (JsonObject) a.ok(200, "GET", "/storages/cloud", null);
            assertEquals("s3://zen/held", shown.getJsonObject("offload").getString("url"), shown.encode());
            // detach lets go of the lease: the other daemon may take the prefix now
            a.ok(200, "DELETE", "/storages/cloud", null);
            b.ok(201, "PUT", "/storages", S3TestStorages.attachBody("cloud", "s3://zen/held", endpoint));
        }
    }

    static void assertRefused(DaemonFixture d, int status, String body, String why) throws Exception {
        HttpResponse<String> r = d.request("PUT", "/storages", body);
        assertEquals(status, r.statusCode(), r.body());
        assertTrue(r.body().contains(why), "expected '" + why + "' in " + r.body());
    }
}
