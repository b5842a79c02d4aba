package dev.zenith.server.compute;

import dev.zenith.server.jobs.Management;
import dev.zenith.server.testing.CheckedVertx;
import io.vertx.core.Vertx;
import dev.zenith.server.config.ZenithConfig;
import dev.zenith.server.history.HistoryPoint;
import dev.zenith.server.history.SnapshotCatalog;
import dev.zenith.server.replication.FollowedTimelines;
import dev.zenith.server.storages.StorageRegistry;
import dev.zenith.storage.Store;
import dev.zenith.storage.timeline.Timeline;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.storage.wal.WalAppend;
import dev.zenith.testkit.PgCluster;
import dev.zenith.wal.Lsn;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What garbage collection keeps, over a real storage in a temporary directory (no PostgreSQL): a root
 * timeline and four branches of it, one for each thing that keeps a branch (a pg, a snapshot, a permanent
 * replication slot) and one nothing names. The pg is a registry record only: retention asks which
 * timeline it is on, never the process.
 */
class RetentionPolicyTest {
    private Path home;
    private StorageRegistry storages;
    private Store store;
    private SnapshotCatalog snapshots;
    private RetentionPolicy policy;
    private Timeline root;
    private Timeline orphan;
    private Timeline ofPg;
    private Timeline ofSnapshot;
    private Timeline ofSlot;
    private Vertx vertx;

    @BeforeEach
    void open() throws Exception {
        home = Files.createTempDirectory("zenith-retention");
        storages = StorageRegistry.open(home.resolve("storages.json"), home.resolve("storages/local"));
        store = storages.get("local").store();
        root = store.timelines().create(null, null, 1);
        store.wal().append(List.of(WalAppend.raw(root.id(), Lsn.of(0x1000000), new byte[0x400])));
        orphan = branch();
        ofPg = branch();
        ofSnapshot = branch();
        ofSlot = branch();
        snapshots = new SnapshotCatalog(storages);
        snapshots.create("app@keep", false, "local", new HistoryPoint(ofSnapshot.id(), Lsn.of(0x1000180), null, null, null));
        // A permanent slot as ReplicationSlots stores it (slot/TIMELINE/NAME -> its restart LSN).
        store.documents().put("slot/" + ofSlot.id() + "/standby", new JsonObject().put("restart_lsn", "0/1000180")
                .encode().getBytes(StandardCharsets.UTF_8));
        PgRegistry registry = new PgRegistry(ZenithConfig.fromJson(new JsonObject()), null, storages, home.resolve("pgs"));
        registry.add(new Compute(new PgRecord("app", "local", ofPg.id(), 0, null, null, Instant.now(), false,
                Lsn.INVALID, PgRecord.Role.PRIMARY, null, null), null));
        vertx = CheckedVertx.create();
        Management management = new Management(vertx);
        policy = new RetentionPolicy(storages, snapshots, registry, new FollowedTimelines(), management,
                new RunningCollections(management), false); // the points it names; the rule on pages: PageGcTest, GcOnPagesTest
    }

    private Timeline branch() {
        Timeline t = store.timelines().create(root.id(), Lsn.of(0x1000100), 1);
        store.wal().append(List.of(WalAppend.raw(t.id(), Lsn.of(0x1000100), new byte[0x200])));
        return t;
    }

    @AfterEach
    void close() throws Exception {
        vertx.close().toCompletionStage().toCompletableFuture().get();
        storages.close();
        PgCluster.deleteTree(home);
    }

    private Set<TimelineId> timelines() {
        return store.timelines().all().stream().map(Timeline::id).collect(Collectors.toSet());
    }

    @Test
    void collectionDeletesOnlyTheBranchNothingNames() throws Exception {
        RetentionPolicy.Collected c = policy.collectGarbage("local", null);
        assertEquals("local", c.storageName());
        assertEquals(StorageRegistry.DEFAULT_PITR, c.pitr(), "the storage's own window");
        assertEquals(List.of(orphan.id()), c.stats().timelinesFreed());
        assertEquals(0x200, c.stats().walBytesFreed(), "the orphan's WAL, and nothing of the others'");
        assertEquals(Set.of(root.id(), ofPg.id(), ofSnapshot.id(), ofSlot.id()), timelines());
        assertEquals(0x200, store.wal().end(ofSnapshot.id()).orElseThrow().minus(Lsn.of(0x1000100)));

        RetentionPolicy.Collected again = policy.collectGarbage("local", Duration.ofHours(1));
        assertEquals(Duration.ofHours(1), again.pitr(), "an override is the window kept and reported");
        assertEquals(List.of(), again.stats().timelinesFreed());
        assertEquals(0, again.stats().walBytesFreed());
    }

    @Test
    void aDestroyedSnapshotOrDroppedSlotNoLongerKeepsItsBranch() throws Exception {
        snapshots.destroy("app@keep", Map.of());
        store.documents().delete("slot/" + ofSlot.id() + "/standby");
        RetentionPolicy.Collected c = policy.collectGarbage("local", null);
        assertEquals(Set.of(orphan.id(), ofSnapshot.id(), ofSlot.id()), Set.copyOf(c.stats().timelinesFreed()));
        assertEquals(Set.of(root.id(), ofPg.id()), timelines());
    }

    @Test
    void aSnapshotReportsWhatItAloneKeeps() {
        snapshots.create("app@onroot", false, "local", new HistoryPoint(root.id(), Lsn.of(0x1000080), null, null, null));
        List<RetentionPolicy.SnapshotRetention> cheap = policy.listSnapshots(s -> true, false);
        assertEquals(2, cheap.size());
        RetentionPolicy.SnapshotRetention keep = cheap.get(0);
        assertEquals("app@keep", keep.snapshot().fullName());
        assertNull(keep.retainsWalBytes(), "without sizes, no dry run");

        List<RetentionPolicy.SnapshotRetention> sized = policy.listSnapshots(s -> true, true);
        RetentionPolicy.SnapshotRetention onBranch = sized.get(0);
        assertEquals("app@keep", onBranch.snapshot().fullName());
        assertEquals(0x200, onBranch.retainsWalBytes(), "its branch's WAL, which goes without it");
        assertEquals(0x200, onBranch.retainsWalBytes() + onBranch.retainsPageBytes());
        RetentionPolicy.SnapshotRetention onRoot = sized.get(1);
        assertEquals("app@onroot", onRoot.snapshot().fullName());
        assertEquals("app@onroot", onBranch.parent(), "the root's snapshot before the branch point is in its past");
        assertNull(onRoot.parent());
        assertEquals(0, onRoot.retainsWalBytes() + onRoot.retainsPageBytes(), "the root is kept anyway");
        assertEquals(Set.of(root.id(), orphan.id(), ofPg.id(), ofSnapshot.id(), ofSlot.id()), timelines(),
                "sizes are a dry run: nothing was collected");

        assertEquals(List.of("app@onroot"), policy.listSnapshots(s -> s.timeline().equals(root.id()), true).stream()
                .map(r -> r.snapshot().fullName()).toList());
    }
}
