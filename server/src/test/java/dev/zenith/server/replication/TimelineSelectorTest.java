package dev.zenith.server.replication;

import dev.zenith.server.storages.StorageRegistry;
import dev.zenith.storage.Store;
import dev.zenith.storage.meta.DocumentStore;
import dev.zenith.storage.timeline.Timeline;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.storage.wal.WalAppend;
import dev.zenith.testkit.PgCluster;
import dev.zenith.wal.Lsn;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * Which timeline a replication connection's startup options select, over real storages in a temporary
 * directory ({@code local} and a second one, {@code other}) holding timelines with a little stored WAL.
 * The pgs are a plain table of names to timelines: the selector only asks where a pg runs.
 */
class TimelineSelectorTest {
    private Path home;
    private StorageRegistry storages;
    private final Map<String, ComputeTimelines.TimelineRef> pgs = new HashMap<>();
    private TimelineSelector selector;
    private Timeline main;
    private Timeline branch;
    private Timeline otherRoot;

    @BeforeEach
    void open() throws Exception {
        home = Files.createTempDirectory("zenith-selector");
        storages = StorageRegistry.open(home.resolve("storages.json"), home.resolve("storages/local"));
        storages.attach("other", "native", home.resolve("storages/other").toString(), StorageRegistry.DEFAULT_PITR);
        Store local = storages.get("local").store();
        main = withWal(local, local.timelines().create(null, null, 1));
        local.documents().put(DocumentStore.MAIN_TIMELINE_KEY, main.id().toString().getBytes(StandardCharsets.UTF_8));
        branch = withWal(local, local.timelines().create(main.id(), Lsn.of(0x1000100), 1));
        otherRoot = withWal(storages.get("other").store(), storages.get("other").store().timelines().create(null, null, 1));
        pgs.put("app", new ComputeTimelines.TimelineRef("local", branch.id()));
        pgs.put("elsewhere", new ComputeTimelines.TimelineRef("other", otherRoot.id()));
        selector = new TimelineSelector(storages, new ComputeTimelines() {
            @Override
            public Optional<TimelineRef> timelineOf(String pgName) {
                return Optional.ofNullable(pgs.get(pgName));
            }

            @Override
            public boolean hasWriter(String storageName, TimelineId timeline) {
                return false;
            }

            @Override
            public FollowedTimelines followedTimelines() {
                return new FollowedTimelines();
            }
        });
    }

    private static Timeline withWal(Store store, Timeline t) {
        Lsn start = t.parentId().isPresent() ? t.branchLsn() : Lsn.of(0x1000000);
        store.wal().append(List.of(WalAppend.raw(t.id(), start, new byte[512])));
        return t;
    }

    @AfterEach
    void close() throws Exception {
        storages.close();
        PgCluster.deleteTree(home);
    }

    @Test
    void noOptionsMeanTheMainTimelineOfLocal() throws Exception {
        for (String options : new String[] {null, "", "   "}) {
            TimelineSelector.Target t = selector.select(options);
            assertEquals("local", t.storageName());
            assertEquals(main.id(), t.timeline().id());
            assertNull(t.pgName());
        }
    }

    @Test
    void aPgNameSelectsThatPgsTimelineWhereverItIs() throws Exception {
        TimelineSelector.Target t = selector.select("-c zenith.pg=app");
        assertEquals(branch.id(), t.timeline().id());
        assertEquals("app", t.pgName(), "chosen by pg name: it follows the pg");
        t = selector.select("-czenith.pg=elsewhere");
        assertEquals("other", t.storageName());
        assertEquals(otherRoot.id(), t.timeline().id());
        assertEquals(storages.get("other").store(), t.store());
        assertEquals("pg \"nosuch\" does not exist or has no timeline yet", fails("-c zenith.pg=nosuch"));
        assertEquals("pg \"nosuch\" does not exist or has no timeline yet", fails("--zenith.pg=nosuch"), "--name=value");
    }

    @Test
    void aTimelineIdIsSearchedInEveryStorageOrTheOneNamed() throws Exception {
        TimelineSelector.Target t = selector.select("-c zenith.timeline=" + otherRoot.id());
        assertEquals("other", t.storageName());
        assertNull(t.pgName());
        assertEquals(branch.id(), selector.select("-c zenith.timeline=" + branch.id() + " -c zenith.storage=local")
                .timeline().id());
        assertEquals("timeline " + branch.id() + " does not exist in storage \"other\"",
                fails("-c zenith.timeline=" + branch.id() + " -c zenith.storage=other"));
        TimelineId unknown = TimelineId.random();
        assertEquals("timeline " + unknown + " does not exist", fails("-c zenith.timeline=" + unknown));
        assertEquals("invalid timeline id \"xyz\" (32 hex digits expected)", fails("-c zenith.timeline=xyz"));
    }

    @Test
    void unknownStoragesTimelinesWithoutWalAndBadOptionsAreRefused() throws Exception {
        assertEquals("storage \"nosuch\" is not attached", fails("-c zenith.storage=nosuch"));
        assertEquals("storage \"other\" has no cluster yet (create a pg on it first)", fails("-c zenith.storage=other"));
        Timeline empty = storages.get("local").store().timelines().create(null, null, 1);
        assertEquals("timeline " + empty.id() + " has no WAL yet", fails("-c zenith.timeline=" + empty.id()));
        assertEquals("cannot parse startup options \"zenith.pg=app\" (expected -c zenith.pg=NAME or -c zenith.timeline=ID)",
                fails("zenith.pg=app"));
        assertEquals("startup option \"zenith.pg\" has no value", fails("-c zenith.pg"));
        assertEquals("startup option \"=app\" has no value", fails("-c =app"));
        assertEquals("unrecognized configuration parameter \"zenith_pg\" (expected -c zenith.pg=NAME, "
                + "-c zenith.timeline=ID or -c zenith.storage=NAME)", fails("--zenith-pg=app"));
        assertEquals("unrecognized configuration parameter \"zenith.pgname\" (expected -c zenith.pg=NAME, "
                + "-c zenith.timeline=ID or -c zenith.storage=NAME)", fails("-c zenith.pgname=app"));
    }

    @Test
    void settingsAreParsedAsPostgresDoes() throws Exception {
        assertEquals(Map.of("zenith_pg", "a", "zenith.timeline", "b=c", "application_name", "x"),
                TimelineSelector.settings("  -c zenith_pg=a   -czenith.timeline=b=c --application-name=x "));
    }

    private String fails(String options) {
        return assertThrows(TimelineSelector.UnknownTimelineException.class, () -> selector.select(options)).getMessage();
    }
}
