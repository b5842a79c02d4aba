package dev.zenith.storage.page;

import dev.zenith.storage.Store;
import dev.zenith.storage.index.IndexNotReadyException;
import dev.zenith.storage.lmdb.Keys;
import dev.zenith.storage.lmdb.Tables;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.storage.timeline.TimelineStore;
import dev.zenith.wal.ForkNumber;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.RelFileNode;
import dev.zenith.wal.RelTag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.lmdbjava.Txn;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.OptionalLong;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A read in an image's window is remembered as the key of the version it found, and the next read of the block
 * there gets that version by its key; a version freed since is looked up again (the older one it falls back to), and
 * a point's facts are kept per point, for the few points used last, up to a bound; a window read's fact (no fork size)
 * never answers {@link PageStore#versionAt}, whose callers check the block against the size.
 */
class ExactVersionsTest {
    private static final RelTag REL = new RelTag(new RelFileNode(1663, 5, 16384), ForkNumber.MAIN);

    @TempDir
    Path tmp;

    @Test
    void theNextReadGetsTheVersionByItsKeyAndAFreedOneIsLookedUpAgain() throws Exception {
        try (Tables tables = Tables.open(tmp.resolve("store"))) {
            TimelineStore timelines = new TimelineStore(tables, (txn, id) -> null);
            TimelineId tl = timelines.create(null, Lsn.INVALID, 1).id();
            PageStore pages = new PageStore(tables, timelines);
            pages.put(tl, REL, 3, Lsn.of(0x100), page(1));
            pages.put(tl, REL, 3, Lsn.of(0x180), page(2));
            Lsn at = Lsn.of(0x200);

            assertArrayEquals(page(2), pages.exactStored(tl, REL, 3, at).orElseThrow().page(), "found by a lookup");
            assertArrayEquals(page(2), pages.exactStored(tl, REL, 3, at).orElseThrow().page(), "by its key");
            try (Txn<byte[]> txn = tables.write()) {
                assertTrue(tables.pages().delete(txn, Keys.page(tl, REL, 3, Lsn.of(0x180))));
                txn.commit();
            }
            assertArrayEquals(page(1), pages.exactStored(tl, REL, 3, at).orElseThrow().page(),
                    "the remembered version went: the older one, looked up again");
            assertArrayEquals(page(1), pages.exactStored(tl, REL, 3, at).orElseThrow().page());
            assertTrue(pages.exactStored(tl, REL, 4, at).isEmpty(), "no version: nothing remembered");
            pages.put(tl, REL, 4, Lsn.of(0x150), page(3));
            assertArrayEquals(page(3), pages.exactStored(tl, REL, 4, at).orElseThrow().page());
        }
    }

    @Test
    void aWindowReadsFactDoesNotAnswerAReadThatChecksTheForkSize() throws Exception {
        try (Store store = Store.open(tmp.resolve("sizes"))) {
            TimelineId tl = store.timelines().create(null, Lsn.INVALID, 1).id();
            store.pages().put(tl, REL, 3, Lsn.of(0x100), page(1));
            Lsn at = Lsn.of(0x200);
            assertArrayEquals(page(1), store.pages().exactStored(tl, REL, 3, at).orElseThrow().page());
            // the window's read knew no fork size: versionAt asks the page index for it (which has none here)
            assertThrows(IndexNotReadyException.class, () -> store.pages().versionAt(store.index(), tl, REL, 3, at, at));
            assertArrayEquals(page(1), store.pages().exactStored(tl, REL, 3, at).orElseThrow().page());
        }
    }

    @Test
    void factsAreKeptForTheFewPointsUsedLastUpToABound() {
        ExactVersions facts = new ExactVersions();
        TimelineId tl = TimelineId.random();
        ExactVersions.Fact fact = new ExactVersions.Fact(OptionalLong.of(10), tl, Lsn.of(0x100), true);
        for (int p = 1; p <= ExactVersions.POINTS; p++) {
            facts.put(tl, Lsn.of(p * 0x1000L), REL, 0, fact);
        }
        for (int p = 2; p <= ExactVersions.POINTS; p++) {
            assertNotNull(facts.get(tl, Lsn.of(p * 0x1000L), REL, 0)); // the first point is now the one used longest ago
        }
        facts.put(tl, Lsn.of(0x9999_0000L), REL, 0, fact);
        assertNull(facts.get(tl, Lsn.of(0x1000), REL, 0), "replaced by the new point");
        assertEquals(fact, facts.get(tl, Lsn.of(0x9999_0000L), REL, 0));
        assertNull(facts.get(TimelineId.random(), Lsn.of(0x2000), REL, 0), "another timeline's point");
        assertNull(facts.get(tl, Lsn.of(0x2000), REL, 1), "another block");

        for (int b = 0; b < ExactVersions.FACTS_PER_POINT + 10; b++) {
            facts.put(tl, Lsn.of(0x2000), REL, b, fact);
        }
        assertNotNull(facts.get(tl, Lsn.of(0x2000), REL, ExactVersions.FACTS_PER_POINT - 1));
        assertNull(facts.get(tl, Lsn.of(0x2000), REL, ExactVersions.FACTS_PER_POINT), "past the bound: not kept");
        facts.forget(tl, Lsn.of(0x2000), REL, 5);
        assertNull(facts.get(tl, Lsn.of(0x2000), REL, 5));
    }

    private static byte[] page(int fill) {
        byte[] p = new byte[8192];
        Arrays.fill(p, 24, 8192, (byte) fill);
        return p;
    }
}
