package dev.zenith.server.offload;

import dev.zenith.server.testing.DaemonFixture;
import dev.zenith.testkit.S3ProxyServer;
import io.vertx.core.json.JsonObject;

/** s3 storages on an S3Proxy for the tests: credentials and attach requests. */
final class S3TestStorages {
    private S3TestStorages() {
    }

    static String attachBody(String name, String url, String endpoint) {
        JsonObject b = new JsonObject().put("name", name).put("type", "s3").put("path", url);
        if (endpoint != null) {
            b.put("endpoint", endpoint);
        }
        return b.encode();
    }

    /**
     * Attaches {@code s3://zen/PREFIX} once the lease of a daemon killed -9 ran out (60 s, plus 5 s for clocks):
     * until then the prefix is refused as in use by another running daemon; must succeed within 150 s.
     */
    static void attachAfterTheLeaseRunsOut(DaemonFixture d, S3ProxyServer s3, String name, String prefix) throws Exception {
        String body = attachBody(name, "s3://zen/" + prefix, s3.endpoint().toString());
        java.net.http.HttpResponse<String> r;
        for (long t0 = System.nanoTime(); (r = d.request("PUT", "/storages", body)).statusCode() == 409; Thread.sleep(2000)) {
            org.junit.jupiter.api.Assertions.assertTrue(r.body().contains("in use by another running daemon"), r.body());
            org.junit.jupiter.api.Assertions.assertTrue(System.nanoTime() - t0 < 150_000_000_000L, "the lease never ran out: " + r.body());
        }
        org.junit.jupiter.api.Assertions.assertEquals(201, r.statusCode(), r.body());
    }

    /** Attaches {@code s3://zen/PREFIX} of {@code s3} as storage {@code name}; must succeed. */
    static JsonObject attach(DaemonFixture d, S3ProxyServer s3, String name, String prefix) throws Exception {
        return (JsonObject) d.ok(201, "PUT", "/storages", attachBody(name, "s3://zen/" + prefix, s3.endpoint().toString()));
    }
}
