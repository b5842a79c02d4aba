package dev.zenith.server.offload;

import dev.zenith.server.testing.DaemonFixture;
import dev.zenith.server.testing.PgbenchLedger;
import dev.zenith.testkit.PgCluster;
import dev.zenith.testkit.S3ProxyExtension;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Losing the machine (kill -9, then a fresh home) of an s3 storage held at the smallest cache bound while it holds
 * twice the bound: most of its page versions live only in S3 segments (the store's base holds their pointers) and most
 * of its WAL only in S3 pieces. Everything up to the {@code remote_lsn} the daemon last reported comes back, and
 * nothing after what it wrote is invented.
 */
@Tag("s3")
@Tag("pg")
@Tag("slow")
class S3BoundedKillTest {
    @RegisterExtension
    static final S3ProxyExtension proxy = new S3ProxyExtension("zen");

    static String boundedBody() {
        return new JsonObject(S3TestStorages.attachBody("cloud", "s3://zen/bounded-kill", proxy.server().endpoint().toString()))
                .put("cache_size", "16MiB").encode();
    }

    @Test
    void afterKill9UnderABoundEverythingUpToTheReportedRemoteLsnComesBack() throws Exception {
        Path work = DaemonFixture.reachableTempDir("zenith-s3-bounded-kill-");
        S3StorageRestoreTest.Killed killed;
        String big;
        try (DaemonFixture a = new DaemonFixture()) {
            a.jvmOptions.addAll(proxy.server().credentialOptions());
            a.startProcess();
            a.ok(201, "PUT", "/storages", boundedBody());
            JsonObject pg = (JsonObject) a.ok(201, "PUT", "/pgs", new JsonObject().put("name", "main").put("storage_name", "cloud").encode());
            int port = pg.getInteger("port");
            String timeline = pg.getString("timeline_id");
            a.psql(port, PgbenchLedger.SETUP);
            a.psql(port, "CREATE TABLE big (id int, v text)");
            for (int i = 0; i < 2; i++) {
                a.psql(port, S3StorageCacheFullTest.insertRows(i * 9_000 + 1, (i + 1) * 9_000));
            }
            a.psql(port, "CHECKPOINT"); // an anchor: a materialization step's versions, evicted to segments
            a.awaitJson("/storages/cloud", j -> !j.getJsonObject("offload").getBoolean("base_pending"));
            big = a.psql(port, "SELECT count(*), sum(hashtext(v)::numeric) FROM big");
            killed = S3StorageRestoreTest.killAfterPgbench(a, port, timeline, work);
            JsonObject offload = killed.shown().getJsonObject("offload");
            assertTrue(offload.getLong("evicted_value_bytes") > 0 && offload.getLong("evicted_wal_bytes") > 0,
                    "the bound evicted values and WAL: " + offload.encode());
        }
        try (DaemonFixture b = new DaemonFixture().startInProcess()) {
            S3TestStorages.attachAfterTheLeaseRunsOut(b, boundedBody());
            try (S3TestStorages.UsedBytesSampler sampler = new S3TestStorages.UsedBytesSampler(b, "cloud")) {
                int port = b.action("main", "start").getInteger("port");
                killed.assertBack(b, port);
                assertEquals(big, b.psql(port, "SELECT count(*), sum(hashtext(v)::numeric) FROM big"), "every page read back");
                b.amcheck(port, "--all", "--install-missing");
                System.out.println("restored under the bound: highest used_bytes " + sampler.highest() + ", high water "
                        + sampler.highestFile() + "; " + ((JsonObject) b.ok(200, "GET", "/storages/cloud", null)).getJsonObject("size"));
            }
        } finally {
            PgCluster.deleteTree(work);
        }
    }
}
