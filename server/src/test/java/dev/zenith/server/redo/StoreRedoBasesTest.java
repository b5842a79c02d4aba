package dev.zenith.server.redo;

import dev.zenith.pgexec.PgInstallation;
import dev.zenith.server.testing.DaemonFixture;
import dev.zenith.storage.Store;
import dev.zenith.storage.page.Watermarks;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.testkit.PgCluster;
import dev.zenith.wal.Lsn;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Semaphore;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** Which points a redo run can start from. */
class StoreRedoBasesTest {
    /**
     * GC drops anchors whose redo point lies below its horizon (their WAL went) but keeps the materialization
     * steps' versions: such a step is no base. It used to make every question of the timeline fail ("materialized
     * at the redo point ..., but no anchor has it"), stopping GetPage by redo and materialization there.
     */
    @Test
    void aStepWhoseAnchorWasCollectedIsNoBaseAndBreaksNothing() throws Exception {
        Path dir = DaemonFixture.reachableTempDir("store-redo-bases-");
        try (Store store = Store.open(dir.resolve("store"))) {
            TimelineId tl = store.timelines().create(null, Lsn.INVALID, 1).id();
            store.watermarks().commit(tl, List.of(), new Watermarks.Step(Lsn.of(0x2000028L), Lsn.of(0x2100000L)));
            PgInstallation pg = PgInstallation.detect();
            StoreRedo redo = new StoreRedo(store, new SparseRedo(pg, ScratchArea.open(dir.resolve("scratch"), pg),
                    RedoSettings.defaults()), new Semaphore(1));
            assertEquals(List.of(), redo.bases(tl));
            assertEquals(java.util.Optional.empty(), redo.stateAtOrBefore(tl, Lsn.of(0x3000000L)));
        } finally {
            PgCluster.deleteTree(dir);
        }
    }
}
