package dev.zenith.server.offload;

import dev.zenith.objectstore.ObjectStore;
import dev.zenith.objectstore.format.Manifest;
import dev.zenith.objectstore.log.ManifestLog;
import dev.zenith.objectstore.s3.S3Location;
import dev.zenith.objectstore.s3.S3ObjectStore;
import dev.zenith.objectstore.s3.S3Settings;
import dev.zenith.server.testing.DaemonFixture;
import dev.zenith.testkit.S3ProxyExtension;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The cache bound holds while data loads, not only after: a load four times the bound never takes LMDB's used
 * bytes (sampled every 50 ms) above it, because new WAL and materialization steps wait for the room eviction
 * makes; and while S3 is down (nothing can be evicted) new WAL waits (the commit does not return) instead of
 * the store growing, and goes in, every row of it, once S3 is back.
 */
@Tag("s3")
@Tag("pg")
class S3StorageCacheFullTest {
    static final long BOUND = 48L << 20;
    @RegisterExtension
    static final S3ProxyExtension proxy = new S3ProxyExtension("zen");

    /** Rows of about 1.9 KB of hex text (lz4 does not shrink it), four to a page. */
    static String insertRows(int from, int to) {
        return "INSERT INTO big SELECT g, (SELECT string_agg(md5(random()::text || g || k), '') FROM generate_series(1, 59) k)"
                + " FROM generate_series(" + from + ", " + to + ") g";
    }

    static DaemonFixture daemon() throws Exception {
        DaemonFixture d = new DaemonFixture();
        d.offloadSettings.put("cache_bytes", BOUND);
        // checkpoints (anchors, materialization steps) every few WAL segments, as a busy pg makes them
        d.computeSettings.put("max_wal_size", "64MB").put("min_wal_size", "32MB");
        return d.startInProcess();
    }

    /** The bytes of the current base of {@code s3://zen/PREFIX} (its pieces' content). */
    static long currentBaseBytes(String prefix) throws Exception {
        S3Settings settings = S3Settings.of(S3Location.parse("s3://zen/" + prefix)).withEndpoint(proxy.server().endpoint())
                .withCredentials(proxy.server().accessKey(), proxy.server().secretKey());
        try (ObjectStore store = S3ObjectStore.open(settings)) {
            return RemoteNames.currentBase(ManifestLog.read(store)).stream().mapToLong(Manifest.Entry::contentLength).sum();
        }
    }

    @Test
    void aLoadFourTimesTheCacheNeverTakesTheStoreAboveItsBound() throws Exception {
        try (DaemonFixture d = daemon()) {
            int port = S3TestStorages.mainOn(d, proxy.server(), "load");
            String expected;
            long dbSize;
            long highest;
            try (S3TestStorages.UsedBytesSampler sampler = new S3TestStorages.UsedBytesSampler(d, "cloud")) {
                d.psql(port, "CREATE TABLE big (id int, v text)");
                for (int i = 0; i < 8; i++) {
                    d.psql(port, insertRows(i * 13_500 + 1, (i + 1) * 13_500));
                }
                dbSize = Long.parseLong(d.psql(port, "SELECT pg_database_size(current_database())"));
                expected = d.psql(port, "SELECT count(*), sum(hashtext(v)::numeric) FROM big");
                d.action("main", "stop");
                d.awaitJson("/storages/cloud", j -> j.getJsonObject("offload").getLong("unuploaded_wal_bytes") == 0);
                highest = sampler.highest();
            }
            System.out.println("database " + dbSize + " bytes loaded; highest used_bytes " + highest + " (bound " + BOUND
                    + "); " + ((JsonObject) d.ok(200, "GET", "/storages/cloud", null)).getJsonObject("offload"));
            assertTrue(dbSize >= 4 * BOUND, "the database is 4x the cache: " + dbSize);
            assertTrue(highest <= BOUND, "used bytes stayed within the bound while loading: " + highest);
            // LMDB's file keeps its high water: held within the bound while loading, it stays near it (it was 259 to
            // 623 MB when only eviction after the fact held the store), and so do the bases that copy it
            JsonObject size = ((JsonObject) d.ok(200, "GET", "/storages/cloud", null)).getJsonObject("size");
            long baseBytes = currentBaseBytes("load");
            System.out.println("current base " + baseBytes + " bytes; store " + size);
            assertTrue(size.getLong("high_water_bytes") <= 3 * BOUND, "the file stayed near the bound: " + size);
            assertTrue(baseBytes <= 3 * BOUND, "so did the base: " + baseBytes);
            d.action("main", "start");
            assertEquals(expected, d.psql(port, "SELECT count(*), sum(hashtext(v)::numeric) FROM big"));
        }
    }

    @Test
    void whileS3IsDownAndTheCacheIsFullNewWalWaitsAndGoesInWhenS3IsBack() throws Exception {
        try (DaemonFixture d = daemon()) {
            int port = S3TestStorages.mainOn(d, proxy.server(), "full");
            d.psql(port, "CREATE TABLE big (id int, v text)");
            d.awaitJson("/storages/cloud", j -> j.getJsonObject("offload").getLong("unuploaded_wal_bytes") == 0);
            S3TestStorages.UsedBytesSampler sampler = new S3TestStorages.UsedBytesSampler(d, "cloud");
            proxy.server().stop();
            CompletableFuture<String> load;
            try {
                // about 100 MB in one transaction: more than the bound, and S3 cannot take any of it
                load = CompletableFuture.supplyAsync(() -> {
                    try {
                        return d.psql(port, insertRows(1, 54_000));
                    } catch (java.io.IOException e) {
                        throw new java.io.UncheckedIOException(e);
                    }
                });
                JsonObject waiting = d.awaitJson("/pgs/main", j -> j.getJsonObject("wal_receiver") != null
                        && "waiting for cache room".equals(j.getJsonObject("wal_receiver").getString("state")));
                System.out.println("while S3 is down: " + waiting.getJsonObject("wal_receiver"));
                Thread.sleep(5_000);
                assertFalse(load.isDone(), "the commit waits while the cache is full and S3 is down");
                assertTrue(sampler.highest() <= BOUND, "the store stayed within its bound: " + sampler.highest());
            } finally {
                proxy.server().startAgain();
            }
            load.get(5, TimeUnit.MINUTES); // the commit returns once S3 takes what the cache must evict
            sampler.close();
            System.out.println("highest used_bytes " + sampler.highest() + " (bound " + BOUND + ")");
            assertTrue(sampler.highest() <= BOUND, "the store stayed within its bound: " + sampler.highest());
            assertEquals("54000", d.psql(port, "SELECT count(*) FROM big"));
        }
    }
}
