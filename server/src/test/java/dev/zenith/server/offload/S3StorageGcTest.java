package dev.zenith.server.offload;

import dev.zenith.objectstore.ObjectStore;
import dev.zenith.objectstore.log.ManifestLog;
import dev.zenith.objectstore.s3.S3Location;
import dev.zenith.objectstore.s3.S3ObjectStore;
import dev.zenith.objectstore.s3.S3Settings;
import dev.zenith.server.testing.DaemonFixture;
import dev.zenith.testkit.S3ProxyExtension;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.Test;

import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertTrue;

/** What an s3 storage no longer needs (earlier bases, WAL a base holds, what local GC freed) leaves the bucket. */
@Tag("s3")
@Tag("pg")
class S3StorageGcTest {
    @RegisterExtension
    static final S3ProxyExtension proxy = new S3ProxyExtension("zen");

    static Set<String> blobsInBucket() throws Exception {
        Path root = proxy.server().dataDir().resolve("zen").resolve("gc");
        for (int attempt = 1; ; attempt++) {
            try (Stream<Path> files = Files.walk(root.resolve("blobs"))) {
                return files.filter(Files::isRegularFile).map(f -> root.relativize(f).toString()).collect(Collectors.toSet());
            } catch (UncheckedIOException e) {
                // the daemon's GC deleted an object (and S3Proxy its emptied directory) while the walk was in it: again
                if (!(e.getCause() instanceof NoSuchFileException) || attempt == 20) {
                    throw e;
                }
            }
        }
    }

    @Test
    void unlistedObjectsAreDeletedAndVisibleOnesNever() throws Exception {
        try (DaemonFixture d = new DaemonFixture()) {
            d.offloadSettings.put("base_interval_ms", 0).put("gc_interval_ms", 500).put("gc_grace_ms", 1000).put("keep_manifests", 1);
            d.startInProcess();
            S3TestStorages.attach(d, proxy.server(), "cloud", "gc");
            JsonObject pg = (JsonObject) d.ok(201, "PUT", "/pgs", new JsonObject().put("name", "main").put("storage_name", "cloud").encode());
            int port = pg.getInteger("port");
            d.pgbench(port, "-i", "-s", "1", "-q");
            d.action("main", "stop"); // a base: the WAL pieces it holds are no longer listed
            d.ok(200, "POST", "/storages/cloud/gc", new JsonObject().put("pitr", "0s").encode());
            Set<String> before = blobsInBucket();
            d.action("main", "start");
            S3Settings settings = S3Settings.of(S3Location.parse("s3://zen/gc")).withEndpoint(proxy.server().endpoint())
                    .withCredentials(proxy.server().accessKey(), proxy.server().secretKey());
            try (ObjectStore store = S3ObjectStore.open(settings)) {
                boolean deleted = false;
                for (long t0 = System.nanoTime(); !deleted && System.nanoTime() - t0 < 120_000_000_000L; Thread.sleep(500)) {
                    d.psql(port, "UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid % 100 = 0");
                    Set<String> now = blobsInBucket();
                    deleted = before.stream().anyMatch(b -> !now.contains(b));
                    Set<String> visible = ManifestLog.read(store).keys();
                    Set<String> present = blobsInBucket();
                    for (String k : visible) {
                        assertTrue(present.contains(k), "a listed object was deleted: " + k);
                    }
                }
                assertTrue(deleted, "nothing was ever deleted from the bucket");
            }
        }
    }
}
