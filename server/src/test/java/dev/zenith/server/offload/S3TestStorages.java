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
        attachAfterTheLeaseRunsOut(d, attachBody(name, "s3://zen/" + prefix, s3.endpoint().toString()));
    }

    /** {@link #attachAfterTheLeaseRunsOut} with the attach request's {@code body}. */
    static void attachAfterTheLeaseRunsOut(DaemonFixture d, String body) throws Exception {
        java.net.http.HttpResponse<String> r;
        for (long t0 = System.nanoTime(); (r = d.request("PUT", "/storages", body)).statusCode() == 409; Thread.sleep(2000)) {
            org.junit.jupiter.api.Assertions.assertTrue(r.body().contains("in use by another running daemon"), r.body());
            org.junit.jupiter.api.Assertions.assertTrue(System.nanoTime() - t0 < 150_000_000_000L, "the lease never ran out: " + r.body());
        }
        org.junit.jupiter.api.Assertions.assertEquals(201, r.statusCode(), r.body());
    }

    /** The keys of the objects the prefix's newest manifest lists, of the kind {@code which} picks (WAL, segments...). */
    static java.util.Set<String> listed(dev.zenith.objectstore.ObjectStore store,
                                        java.util.function.Predicate<dev.zenith.objectstore.format.Manifest.Entry> which) {
        java.util.Set<String> out = new java.util.HashSet<>();
        for (dev.zenith.objectstore.format.Manifest.Entry e : dev.zenith.objectstore.log.ManifestLog.read(store).entries()) {
            if (which.test(e)) {
                out.add(e.key());
            }
        }
        return out;
    }

    /** Attaches {@code s3://zen/PREFIX} of {@code s3} as storage {@code name}; must succeed. */
    static JsonObject attach(DaemonFixture d, S3ProxyServer s3, String name, String prefix) throws Exception {
        return (JsonObject) d.ok(201, "PUT", "/storages", attachBody(name, "s3://zen/" + prefix, s3.endpoint().toString()));
    }

    /** Attaches {@code s3://zen/PREFIX} of {@code s3} as storage cloud and creates pg main there; its port. */
    static int mainOn(DaemonFixture d, S3ProxyServer s3, String prefix) throws Exception {
        attach(d, s3, "cloud", prefix);
        return ((JsonObject) d.ok(201, "PUT", "/pgs", new JsonObject().put("name", "main").put("storage_name", "cloud")
                .encode())).getInteger("port");
    }

    /**
     * The highest {@code size.used_bytes} of storage {@code name}, sampled every 50 ms from its start until it is
     * closed: whether the store stayed within its cache bound while something ran; and the highest
     * {@code size.high_water_bytes} (LMDB's file: what the cache takes on the disk).
     */
    static final class UsedBytesSampler implements AutoCloseable {
        private final java.util.concurrent.atomic.AtomicLong highest = new java.util.concurrent.atomic.AtomicLong();
        private final java.util.concurrent.atomic.AtomicLong highestFile = new java.util.concurrent.atomic.AtomicLong();
        private volatile boolean sampling = true;
        private final Thread thread;

        UsedBytesSampler(DaemonFixture d, String name) {
            thread = new Thread(() -> {
                while (sampling) {
                    try {
                        JsonObject s = (JsonObject) d.ok(200, "GET", "/storages/" + name, null);
                        highest.accumulateAndGet(s.getJsonObject("size").getLong("used_bytes"), Math::max);
                        highestFile.accumulateAndGet(s.getJsonObject("size").getLong("high_water_bytes"), Math::max);
                        Thread.sleep(50);
                    } catch (Exception e) {
                        return;
                    }
                }
            }, "cache-sampler");
            thread.start();
        }

        long highest() {
            return highest.get();
        }

        long highestFile() {
            return highestFile.get();
        }

        @Override
        public void close() throws InterruptedException {
            sampling = false;
            thread.join();
        }
    }
}
