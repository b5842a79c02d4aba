package dev.zenith.server.offload;

import dev.zenith.objectstore.ObjectStore;
import dev.zenith.objectstore.s3.S3Location;
import dev.zenith.objectstore.s3.S3ObjectStore;
import dev.zenith.objectstore.s3.S3Settings;
import dev.zenith.server.testing.DaemonFixture;
import dev.zenith.testkit.S3ProxyExtension;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.nio.file.Files;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Segments of evicted values whose values were all deleted locally (here a destroyed branch's, by {@code storage gc}) are
 * dropped from the manifest by the next base and then deleted from the bucket by S3 GC, while every segment a
 * pointer of the store (or of the base) still names stays: a pg built from the store afterwards reads them all.
 */
@Tag("s3")
@Tag("pg")
class S3SegmentCollectionTest {
    @RegisterExtension
    static final S3ProxyExtension proxy = new S3ProxyExtension("zen");

    /** The keys of the segment objects the prefix's newest manifest lists. */
    static Set<String> listedSegments(ObjectStore store) {
        return S3TestStorages.listed(store, RemoteNames::isSegment);
    }

    @Test
    void segmentsNoValueNeedsAnyMoreAreCollectedAndTheRestStay() throws Exception {
        try (DaemonFixture d = new DaemonFixture()) {
            d.offloadSettings.put("cache_bytes", S3StorageCacheFullTest.BOUND).put("base_interval_ms", 0)
                    .put("gc_interval_ms", 500).put("gc_grace_ms", 1000).put("keep_manifests", 1);
            d.startInProcess();
            int port = S3TestStorages.mainOn(d, proxy.server(), "collect");
            d.psql(port, "CREATE TABLE big (id int, v text)");
            d.psql(port, S3StorageCacheFullTest.insertRows(1, 13_500));
            String expected = d.psql(port, "SELECT count(*), sum(hashtext(v)::numeric) FROM big");
            // a branch loaded with values of its own, evicted to segments, then destroyed: its timeline's values go
            int tmp = ((JsonObject) d.ok(201, "PUT", "/pgs", new JsonObject().put("name", "tmp").put("from", "main").encode()))
                    .getInteger("port");
            d.psql(tmp, "CREATE TABLE more (id int, v text)");
            for (int i = 0; i < 2; i++) {
                d.psql(tmp, S3StorageCacheFullTest.insertRows(i * 13_500 + 1, (i + 1) * 13_500).replace("INTO big", "INTO more"));
            }
            d.action("tmp", "stop"); // its image: tmp's pages, the coldest values, evicted into segments of their own
            d.awaitJson("/storages/cloud", j -> j.getJsonObject("offload").getLong("evicted_value_bytes") > 0
                    && j.getJsonObject("offload").getLong("unuploaded_wal_bytes") == 0
                    && !j.getJsonObject("offload").getBoolean("base_pending"));
            S3Settings settings = S3Settings.of(S3Location.parse("s3://zen/collect")).withEndpoint(proxy.server().endpoint())
                    .withCredentials(proxy.server().accessKey(), proxy.server().secretKey());
            try (ObjectStore store = S3ObjectStore.open(settings)) {
                Set<String> before = listedSegments(store);
                assertTrue(before.size() > 1, "segments listed after the load: " + before.size());
                d.ok(200, "DELETE", "/pgs/tmp", null);
                JsonObject freed = (JsonObject) d.ok(200, "POST", "/storages/cloud/gc", new JsonObject().put("pitr", "0s").encode());
                System.out.println("gc: " + freed.encode());
                assertEquals(1, freed.getInteger("timelines_freed"), freed.encode());
                String gone = null;
                for (long t0 = System.nanoTime(); gone == null && System.nanoTime() - t0 < 120_000_000_000L; Thread.sleep(500)) {
                    Set<String> now = listedSegments(store);
                    for (String k : before) {
                        if (!now.contains(k) && !Files.exists(proxy.server().objectFile("zen", "collect/" + k))) {
                            gone = k;
                        }
                    }
                }
                assertTrue(gone != null, "no segment was ever dropped and deleted (listed before: " + before.size()
                        + ", now: " + listedSegments(store).size() + ")");
                System.out.println("segments listed before the collection " + before.size() + ", after " + listedSegments(store).size());
                for (String k : listedSegments(store)) {
                    assertTrue(Files.exists(proxy.server().objectFile("zen", "collect/" + k)), "a listed segment is gone: " + k);
                }
            }
            // a pg built from the store reads the evicted pages back: none of the segments it needs was collected
            JsonObject branch = (JsonObject) d.ok(201, "PUT", "/pgs", new JsonObject().put("name", "then")
                    .put("from", "main").encode());
            assertEquals(expected, d.psql(branch.getInteger("port"), "SELECT count(*), sum(hashtext(v)::numeric) FROM big"));
        }
    }
}
