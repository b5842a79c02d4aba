package dev.zenith.server.compute;

import dev.zenith.server.config.ZenithConfig;
import dev.zenith.server.storages.StorageRegistry;
import dev.zenith.storage.Store;
import dev.zenith.storage.timeline.Timeline;
import dev.zenith.testkit.PgCluster;
import dev.zenith.wal.Lsn;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A pg is shown running only once ZENITH_HOME/pgpass names its port with the password its role postgres has: the
 * owner's psql connects as soon as it sees "running" (a pg taken back when a storage restored from S3 came in ran
 * before the file named it). Over a real storage in a temporary directory, no PostgreSQL: the registry's part.
 */
class PassFileBeforeRunningTest {
    private Path home;
    private StorageRegistry storages;
    private Store store;
    private PgRegistry registry;
    private Compute pg;

    @BeforeEach
    void open() throws Exception {
        home = Files.createTempDirectory("zenith-passfile");
        storages = StorageRegistry.open(home.resolve("storages.json"), home.resolve("storages/local"));
        store = storages.get("local").store();
        Timeline root = store.timelines().create(null, null, 1);
        ZenithConfig config = ZenithConfig.fromJson(new JsonObject().put("ZENITH_HOME", home.toString())
                .put("ZENITH_REPLICATION_PASSWORD", "replication-secret"));
        registry = new PgRegistry(config, null, storages, home.resolve("pgs"));
        pg = new Compute(new PgRecord("app", "local", root.id(), 55123, null, null, Instant.now(), false,
                Lsn.INVALID, PgRecord.Role.PRIMARY, null, null), null);
    }

    @AfterEach
    void close() throws Exception {
        storages.close();
        PgCluster.deleteTree(home);
    }

    private String passFile() throws Exception {
        return Files.readString(home.resolve("pgpass"));
    }

    @Test
    void aPgTakenInIsNamedBeforeItIsShownRunning() throws Exception {
        ClusterPasswords.keep(store, "storage-secret");
        registry.publishPassFile(); // as at a daemon's start, before the storage's pgs are taken in
        registry.add(pg);
        assertFalse(passFile().contains(":55123:"));
        registry.nowRunning(pg);
        assertTrue(pg.running);
        assertTrue(passFile().contains("127.0.0.1:55123:*:postgres:storage-secret\n"), passFile());
    }

    @Test
    void aPasswordTheStorageDoesNotKeepYetIsNamedWhileItRuns() throws Exception {
        registry.add(pg);
        registry.publishPassFile(); // the storage has no password: nothing to name for the pg
        assertFalse(passFile().contains(":55123:"));
        pg.unkeptPassword = "set-at-start"; // a start gave its cluster one; kept once its WAL is durable
        registry.nowRunning(pg);
        assertTrue(passFile().contains("127.0.0.1:55123:*:postgres:set-at-start\n"), passFile());

        ClusterPasswords.keep(store, "set-at-start");
        pg.unkeptPassword = null;
        pg.running = false;
        registry.nowRunning(pg); // named already: the file stays as it is
        assertTrue(passFile().contains("127.0.0.1:55123:*:postgres:set-at-start\n"), passFile());
    }
}
