package dev.zenith.server.offload;

import dev.zenith.server.testing.DaemonFixture;
import dev.zenith.testkit.S3ProxyExtension;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * WAL arriving in journal batches large against the cache bound must always get into the store while S3 takes what
 * eviction uploads. With a 24 MiB bound and batches of up to 6 MiB (asking twice that), a big batch waits whenever the
 * store is above 40% of the bound (used + 12 MiB above 90%), and eviction used to start only above 60% and stop at
 * 45%: a store left between 45% and 60% by small batches made the next big one wait for good, with nothing evicting
 * (the commit never returned, a `pg stop`'s drain never ended: S3ColdPageFetchTest's stop in stop 30's CI, where
 * 4 MiB batches have the band 13.6-14.4 MiB). Now a refused ask makes eviction run down to where it fits. Commits and
 * the stop must finish; every row is there after a restart.
 */
@Tag("s3")
@Tag("pg")
@Tag("slow")
class S3WalRoomBandTest {
    private static final long BOUND = 24L << 20;
    @RegisterExtension
    static final S3ProxyExtension proxy = new S3ProxyExtension("zen");

    @Test
    void walBatchesLargerThanTheRoomEvictionLeavesStillGoInAndTheStopDrains() throws Exception {
        try (DaemonFixture d = new DaemonFixture()) {
            d.offloadSettings.put("cache_bytes", BOUND);
            d.receiverSettings.put("max_batch_bytes", 6 << 20);
            d.startInProcess();
            int port = S3TestStorages.mainOn(d, proxy.server(), "band");
            d.psql(port, "CREATE TABLE big (id int, v text)");
            // medium commits (small batches: they leave the store in the band) each followed by a big one (~9.5 MB of
            // incompressible rows: batches up to 6 MiB once the stream runs ahead of the journal)
            int rows = 0;
            for (int i = 0; i < 3; i++) {
                commitWithin(d, port, S3StorageCacheFullTest.insertRows(rows + 1, rows + 700));
                commitWithin(d, port, S3StorageCacheFullTest.insertRows(rows + 701, rows + 5_700));
                rows += 5_700;
            }
            String expected = d.psql(port, "SELECT count(*), sum(hashtext(v)::numeric) FROM big");
            d.action("main", "stop"); // its drain of the last WAL into the store must end (it answered 500 at 120 s)
            JsonObject storage = d.awaitJson("/storages/cloud",
                    j -> j.getJsonObject("offload").getLong("unuploaded_wal_bytes") == 0);
            System.out.println("after the stop: size " + storage.getJsonObject("size") + ", offload "
                    + storage.getJsonObject("offload"));
            d.action("main", "start");
            assertEquals(rows + "|" + expected.substring(expected.indexOf('|') + 1), expected);
            assertEquals(expected, d.psql(port, "SELECT count(*), sum(hashtext(v)::numeric) FROM big"));
        }
    }

    /** Runs {@code sql}; fails, saying what the WAL receiver shows, when its commit has not returned in 3 minutes. */
    private static void commitWithin(DaemonFixture d, int port, String sql) throws Exception {
        CompletableFuture<String> commit = CompletableFuture.supplyAsync(() -> {
            try {
                return d.psql(port, sql);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        });
        try {
            commit.get(3, TimeUnit.MINUTES);
        } catch (TimeoutException e) {
            JsonObject pg = d.pg("main");
            JsonObject storage = (JsonObject) d.ok(200, "GET", "/storages/cloud", null);
            throw new AssertionError("the commit waited 3 minutes: wal_receiver " + pg.getJsonObject("wal_receiver")
                    + ", size " + storage.getJsonObject("size") + ", offload " + storage.getJsonObject("offload"));
        }
    }
}
