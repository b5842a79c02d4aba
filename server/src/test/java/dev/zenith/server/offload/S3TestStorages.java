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

    /** Attaches {@code s3://zen/PREFIX} of {@code s3} as storage {@code name}; must succeed. */
    static JsonObject attach(DaemonFixture d, S3ProxyServer s3, String name, String prefix) throws Exception {
        return (JsonObject) d.ok(201, "PUT", "/storages", attachBody(name, "s3://zen/" + prefix, s3.endpoint().toString()));
    }
}
