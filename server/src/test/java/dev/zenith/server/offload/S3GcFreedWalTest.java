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

import java.nio.file.Files;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A local {@code storage gc} that frees WAL makes the next offload round take a base, whatever the base spacing
 * ({@code base_interval_ms} here 10 minutes): the base drops the WAL pieces below each timeline's new start from the
 * manifest and S3 GC deletes them. Without it they stayed listed until a base came for another reason.
 */
@Tag("s3")
@Tag("pg")
class S3GcFreedWalTest {
    @RegisterExtension
    static final S3ProxyExtension proxy = new S3ProxyExtension("zen");

    @Test
    void walFreedByGcLeavesTheBucketWithoutWaitingForTheBaseInterval() throws Exception {
        try (DaemonFixture d = new DaemonFixture()) {
            d.offloadSettings.put("base_interval_ms", 600_000)
                    .put("gc_interval_ms", 500).put("gc_grace_ms", 1000).put("keep_manifests", 1);
            d.startInProcess();
            int port = S3TestStorages.mainOn(d, proxy.server(), "walgc");
            d.pgbench(port, "-i", "-s", "1", "-q");
            d.psql(port, "CHECKPOINT");
            d.psql(port, "UPDATE pgbench_accounts SET abalance = abalance + 1");
            JsonObject shown = (JsonObject) d.ok(200, "GET", "/storages/cloud", null);
            long index = shown.getJsonObject("offload").getLong("index_bytes");
            assertTrue(index > 0 && index < shown.getJsonObject("size").getLong("used_bytes"), "page index bytes: " + shown.encode());
            // the first collection on pages records the timeline's retention horizon, a new document: that base is
            // taken at once anyway (a new name), so the test starts after it
            String b0 = base(d);
            gcUntilWalFreed(d, port);
            d.awaitJson("/storages/cloud", j -> !b0.equals(j.getJsonObject("offload").getString("base")));
            awaitNoNewBaseFor(d, 20);
            S3Settings settings = S3Settings.of(S3Location.parse("s3://zen/walgc")).withEndpoint(proxy.server().endpoint())
                    .withCredentials(proxy.server().accessKey(), proxy.server().secretKey());
            try (ObjectStore store = S3ObjectStore.open(settings)) {
                for (int i = 0; i < 2; i++) {
                    d.psql(port, "UPDATE pgbench_accounts SET abalance = abalance + 1");
                    d.psql(port, "CHECKPOINT");
                }
                d.awaitJson("/storages/cloud", j -> j.getJsonObject("offload").getLong("unuploaded_wal_bytes") == 0);
                Set<String> before = S3TestStorages.listed(store, RemoteNames::isWal);
                assertFalse(before.isEmpty(), "no WAL piece listed after the updates");
                gcUntilWalFreed(d, port); // changes only what the prefix already names: no new document, timeline or pg
                String gone = null;
                for (long t0 = System.nanoTime(); gone == null && System.nanoTime() - t0 < 90_000_000_000L; Thread.sleep(500)) {
                    Set<String> now = S3TestStorages.listed(store, RemoteNames::isWal);
                    for (String k : before) {
                        if (!now.contains(k) && !Files.exists(proxy.server().objectFile("zen", "walgc/" + k))) {
                            gone = k;
                        }
                    }
                }
                assertTrue(gone != null, "no WAL piece GC freed locally was dropped from the manifest and deleted within 90 s"
                        + " (listed before: " + before.size() + ", now: " + S3TestStorages.listed(store, RemoteNames::isWal).size() + ")");
                for (Manifest.Entry e : ManifestLog.read(store).entries()) {
                    assertTrue(Files.exists(proxy.server().objectFile("zen", "walgc/" + e.key())), "a listed object is gone: " + e.key());
                }
            }
            // what is left still serves: the pg keeps committing and reading
            d.psql(port, "UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid < 100");
            assertEquals("100000", d.psql(port, "SELECT count(*) FROM pgbench_accounts"));
        }
    }

    private static String base(DaemonFixture d) throws Exception {
        return ((JsonObject) d.ok(200, "GET", "/storages/cloud", null)).getJsonObject("offload").getString("base");
    }

    /** Waits (up to 3 minutes) until no base went up for {@code seconds}: none is under way any more. */
    private static void awaitNoNewBaseFor(DaemonFixture d, int seconds) throws Exception {
        long deadline = System.nanoTime() + 180_000_000_000L;
        String last = base(d);
        long since = System.nanoTime();
        while (System.nanoTime() - since < seconds * 1_000_000_000L) {
            assertTrue(System.nanoTime() < deadline, "bases kept coming for 3 minutes");
            Thread.sleep(500);
            String now = base(d);
            if (!now.equals(last)) {
                last = now;
                since = System.nanoTime();
            }
        }
    }

    /** {@code storage gc --pitr 0s} until it frees WAL (once background materialization has a step past it). */
    private static void gcUntilWalFreed(DaemonFixture d, int port) throws Exception {
        for (long t0 = System.nanoTime(); ; Thread.sleep(2000)) {
            assertTrue(System.nanoTime() - t0 < 240_000_000_000L, "storage gc never freed WAL");
            d.psql(port, "CHECKPOINT");
            d.awaitJson("/storages/cloud", j -> j.getJsonObject("offload").getLong("unuploaded_wal_bytes") == 0);
            JsonObject gc = (JsonObject) d.ok(200, "POST", "/storages/cloud/gc", new JsonObject().put("pitr", "0s").encode());
            System.out.println("gc: " + gc.encode());
            if (gc.getLong("wal_bytes_freed") > 0) {
                return;
            }
        }
    }
}
