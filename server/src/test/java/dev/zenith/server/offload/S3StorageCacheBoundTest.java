package dev.zenith.server.offload;

import dev.zenith.server.testing.DaemonFixture;
import dev.zenith.testkit.S3ProxyExtension;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A bounded cache: an s3 storage writing several times its cache bound of WAL keeps its store within the
 * bound (plus the stated slack) by evicting the WAL S3 holds, and a branch at a snapshot taken before
 * (whose replay needs the evicted WAL) reads it back from S3 and sees exactly what the pg saw then.
 */
@Tag("s3")
@Tag("pg")
class S3StorageCacheBoundTest {
    /** Above what this pg's store holds besides WAL (about 110 MB: images, page versions, indexes), not evicted yet. */
    static final long BOUND = 128L << 20;
    /** WAL written since the last round or not uploaded yet, the chunk each timeline keeps, LMDB's own pages. */
    static final long SLACK = 32L << 20;
    @RegisterExtension
    static final S3ProxyExtension proxy = new S3ProxyExtension("zen");

    @Test
    void walBeyondTheBoundIsEvictedAndReadBackFromS3() throws Exception {
        try (DaemonFixture d = new DaemonFixture()) {
            d.offloadSettings.put("cache_bytes", BOUND);
            d.startInProcess();
            S3TestStorages.attach(d, proxy.server(), "cloud", "bounded");
            JsonObject pg = (JsonObject) d.ok(201, "PUT", "/pgs", new JsonObject().put("name", "main")
                    .put("storage_name", "cloud").encode());
            int port = pg.getInteger("port");
            d.psql(port, "CREATE TABLE w (id int PRIMARY KEY, v text); "
                    + "INSERT INTO w SELECT g, repeat(md5(g::text), 32) FROM generate_series(1, 2000) g");
            String early = d.psql(port, "SELECT count(*), md5(string_agg(v, ',' ORDER BY id)) FROM w");
            d.ok(201, "PUT", "/snapshots", new JsonObject().put("name", "main@early").encode());

            long before = Long.parseLong(d.psql(port, "SELECT pg_current_wal_lsn() - '0/0'::pg_lsn"));
            for (int i = 0; i < 80; i++) {
                d.psql(port, "UPDATE w SET v = repeat(md5(random()::text), 32)");
                if (i % 10 == 9) {
                    d.psql(port, "VACUUM w");
                }
            }
            long written = Long.parseLong(d.psql(port, "SELECT pg_current_wal_lsn() - '0/0'::pg_lsn")) - before;
            assertTrue(written > BOUND * 3 / 2, "the test writes more than 1.5 times the bound: " + written);

            JsonObject bounded = d.awaitJson("/storages/cloud", j -> j.getJsonObject("offload").getLong("unuploaded_wal_bytes") == 0
                    && j.getJsonObject("offload").getLong("evicted_wal_bytes") > 0
                    && j.getJsonObject("size").getLong("used_bytes") <= BOUND + SLACK);
            System.out.println("cache bound " + BOUND + ", WAL written " + written + ", storage " + bounded.getJsonObject("size")
                    + ", evicted " + bounded.getJsonObject("offload").getLong("evicted_wal_bytes"));
            assertEquals(BOUND, bounded.getJsonObject("offload").getLong("cache_bytes"));

            // a branch at the early snapshot: its data directory is replayed through WAL S3 now holds alone
            JsonObject branch = (JsonObject) d.ok(201, "PUT", "/pgs", new JsonObject().put("name", "then")
                    .put("snapshot", "main@early").encode());
            assertEquals(early, d.psql(branch.getInteger("port"), "SELECT count(*), md5(string_agg(v, ',' ORDER BY id)) FROM w"));
        }
    }
}
