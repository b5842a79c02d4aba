package dev.zenith.server.history;

import dev.zenith.server.domain.ConflictException;
import dev.zenith.server.domain.InvalidRequestException;
import dev.zenith.server.domain.NotFoundException;
import dev.zenith.server.storages.StorageRegistry;
import dev.zenith.storage.Store;
import dev.zenith.storage.timeline.Timeline;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.storage.wal.WalAppend;
import dev.zenith.testkit.PgCluster;
import dev.zenith.wal.Lsn;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The snapshot catalog over a real storage in a temporary directory (no PostgreSQL): a root timeline
 * with stored WAL from 0/1000000 to 0/1000400, a branch of it at 0/1000100, and a branch of that branch.
 */
class SnapshotCatalogTest {
    private Path home;
    private StorageRegistry storages;
    private Store store;
    private SnapshotCatalog catalog;
    private Timeline root;
    private Timeline branch;
    private Timeline grandchild;

    @BeforeEach
    void open() throws Exception {
        home = Files.createTempDirectory("zenith-snapshots");
        storages = StorageRegistry.open(home.resolve("storages.json"), home.resolve("storages/local"));
        store = storages.get("local").store();
        root = store.timelines().create(null, null, 1);
        store.wal().append(List.of(WalAppend.raw(root.id(), Lsn.of(0x1000000), new byte[0x400])));
        branch = store.timelines().create(root.id(), Lsn.of(0x1000100), 1);
        store.wal().append(List.of(WalAppend.raw(branch.id(), Lsn.of(0x1000100), new byte[0x200])));
        grandchild = store.timelines().create(branch.id(), Lsn.of(0x1000200), 1);
        catalog = new SnapshotCatalog(storages);
    }

    @AfterEach
    void close() throws Exception {
        storages.close();
        PgCluster.deleteTree(home);
    }

    /** As a user makes one, or a checkout (PG@HEAD{i}). */
    private Snapshot create(String fullName, Timeline t, long lsn) {
        return catalog.create(fullName, fullName.contains("@HEAD"), "local", new HistoryPoint(t.id(), Lsn.of(lsn), null, null, null));
    }

    @Test
    void namesArePgAtSnapAndHeadNamesAreCheckouts() {
        assertArrayEquals(new String[] {"app", "v1"}, SnapshotCatalog.parseName("app@v1", false));
        assertArrayEquals(new String[] {"app", "HEAD3"}, SnapshotCatalog.parseName("app@HEAD3", true));
        assertEquals("snapshot names have the form PG@SNAP, got 'app'",
                assertThrows(InvalidRequestException.class, () -> SnapshotCatalog.parseName("app", false)).getMessage());
        assertEquals("snapshot names have the form PG@SNAP, got nothing",
                assertThrows(InvalidRequestException.class, () -> SnapshotCatalog.parseName(null, false)).getMessage());
        assertEquals("snapshot name must match [a-z0-9][a-z0-9_-]{0,62}, got 'HEAD3'",
                assertThrows(InvalidRequestException.class, () -> SnapshotCatalog.parseName("app@HEAD3", false)).getMessage(),
                "users cannot name their own snapshots as a checkout does");
        for (String bad : List.of("app@HEAD0", "app@HEAD", "app@HEAD1234567890", "App@v1", "app@", "@v1", "app@v/1")) {
            assertThrows(InvalidRequestException.class, () -> SnapshotCatalog.parseName(bad, true), bad);
        }
        assertThrows(InvalidRequestException.class, () -> create("app@Bad", root, 0x1000080));
        assertTrue(catalog.list().isEmpty(), "a refused name creates nothing");
        assertTrue(store.documents().list("snapshot/").isEmpty());
    }

    @Test
    void createdSnapshotsAreListedFoundAndKeptInTheirStorage() throws Exception {
        Snapshot v1 = create("app@v1", root, 0x1000080);
        assertEquals(new Snapshot("app", "v1", "local", root.id(), Lsn.of(0x1000080), null, v1.createdAt()), v1);
        Snapshot head = catalog.create("app@HEAD1", true, "local",
                new HistoryPoint(branch.id(), Lsn.of(0x1000180), null, null, Instant.parse("2026-01-02T03:04:05Z")));
        Snapshot other = create("db@v1", root, 0x1000300);
        assertEquals("snapshot 'app@v1' already exists",
                assertThrows(ConflictException.class, () -> create("app@v1", root, 0x1000300)).getMessage());
        assertEquals(Lsn.of(0x1000080), catalog.get("app@v1").lsn(), "the one that exists is untouched");

        assertEquals(List.of(v1, head, other), List.copyOf(catalog.list()), "in the order they were made");
        assertEquals(List.of(v1, head), catalog.ofPg("app"));
        assertEquals(2, catalog.nextHeadIndex("app"));
        assertEquals(1, catalog.nextHeadIndex("db"));
        assertEquals("snapshot 'app@v2' not found",
                assertThrows(NotFoundException.class, () -> catalog.get("app@v2")).getMessage());
        assertThrows(InvalidRequestException.class, () -> catalog.get("app"), "a malformed name is a bad request");

        SnapshotCatalog reloaded = new SnapshotCatalog(storages);
        reloaded.load(storages.get("local"));
        assertEquals(List.copyOf(catalog.list()), List.copyOf(reloaded.list()), "read back from the storage as made");
        reloaded.forget("local");
        assertTrue(reloaded.list().isEmpty());
    }

    @Test
    void aSnapshotsParentIsTheNewestOneInItsPast() {
        Snapshot early = create("app@early", root, 0x1000080);
        Snapshot late = create("app@late", root, 0x1000300);
        Snapshot onBranch = create("app@onbranch", branch, 0x1000180);
        Snapshot deeper = create("app@deeper", grandchild, 0x1000200);
        assertEquals(Optional.empty(), catalog.parentOf(early));
        assertEquals(Optional.of(early), catalog.parentOf(late));
        assertEquals(Optional.of(early), catalog.parentOf(onBranch), "the root past the branch point is not its past");
        assertEquals(Optional.of(onBranch), catalog.parentOf(deeper));
        Snapshot twin = create("app@twin", root, 0x1000300);
        assertEquals(Optional.of(late), catalog.parentOf(twin), "at the same point, the older one is the parent");
        assertEquals(Optional.of(early), catalog.parentOf(late), "and not the other way round");
    }

    @Test
    void aSnapshotSomethingStandsOnIsNotDestroyed() throws Exception {
        Snapshot v1 = create("app@v1", root, 0x1000100);
        catalog.recordBranch(store, branch.id(), v1);
        create("app@HEAD1", branch, 0x1000180);
        create("app@onbranch", grandchild, 0x1000200);
        Snapshot free = create("app@free", root, 0x1000300);
        assertTrue(catalog.dependsOn(store, grandchild.id(), "app@v1"), "through its ancestors");
        assertFalse(catalog.dependsOn(store, root.id(), "app@v1"));

        ConflictException e = assertThrows(ConflictException.class,
                () -> catalog.destroy("app@v1", Map.of(grandchild.id(), List.of("web", "app"), root.id(), List.of("db"))));
        assertEquals("snapshot 'app@v1' cannot be destroyed while something stands on it: "
                + "pg 'app', whose history branches there (move it: pg checkout app PG@SNAP; or pg destroy app); "
                + "pg 'web', whose history branches there (move it: pg checkout web PG@SNAP; or pg destroy web); "
                + "snapshot 'app@HEAD1', the state pg 'app' left at a checkout, which lies on such a branch "
                + "(snapshot destroy app@HEAD1); "
                + "snapshot 'app@onbranch' which lies on such a branch (snapshot destroy app@onbranch)", e.getMessage());
        assertEquals(v1, catalog.get("app@v1"), "a refused destroy changes nothing");
        assertEquals("snapshot 'app@v1' cannot be destroyed while something stands on it: "
                + "snapshot 'app@HEAD1', the state pg 'app' left at a checkout, which lies on such a branch "
                + "(snapshot destroy app@HEAD1); "
                + "snapshot 'app@onbranch' which lies on such a branch (snapshot destroy app@onbranch)",
                assertThrows(ConflictException.class, () -> catalog.destroy("app@v1", Map.of())).getMessage(),
                "snapshots on its branches keep it without any pg");
        assertTrue(store.documents().get(Snapshot.key("app@v1")).isPresent());

        assertEquals(free, catalog.destroy("app@free", Map.of(grandchild.id(), List.of("app"))));
        assertThrows(NotFoundException.class, () -> catalog.get("app@free"));
        assertTrue(store.documents().get(Snapshot.key("app@free")).isEmpty(), "gone from the storage too");

        catalog.destroy("app@onbranch", Map.of());
        catalog.destroy("app@HEAD1", Map.of());
        assertEquals(v1, catalog.destroy("app@v1", Map.of(root.id(), List.of("db"))), "nothing stands on it any more");
        SnapshotCatalog reloaded = new SnapshotCatalog(storages);
        reloaded.load(storages.get("local"));
        assertTrue(reloaded.list().isEmpty());
    }

    @Test
    void aRefusalNamesWhereAPgCanMove() {
        Snapshot v1 = create("app@v1", root, 0x1000100);
        catalog.recordBranch(store, branch.id(), v1);
        create("app@HEAD1", root, 0x1000200);
        create("app@HEAD2", root, 0x1000300);
        ConflictException e = assertThrows(ConflictException.class,
                () -> catalog.destroy("app@v1", Map.of(branch.id(), List.of("app"))));
        assertTrue(e.getMessage().contains("(move it: pg checkout app app@HEAD2; or pg destroy app)"), e.getMessage());
    }
}
