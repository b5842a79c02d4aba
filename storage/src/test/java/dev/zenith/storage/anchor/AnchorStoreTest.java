package dev.zenith.storage.anchor;

import dev.zenith.storage.Store;
import dev.zenith.storage.page.PageWrite;
import dev.zenith.storage.page.Watermarks;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.wal.ForkNumber;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.RelFileNode;
import dev.zenith.wal.RelTag;
import dev.zenith.wal.segment.WalGeometry;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Anchors and materialization steps survive a reopen; status files are shared blobs that garbage collection keeps. */
class AnchorStoreTest {
    @TempDir
    Path tmp;

    @Test
    void anchorsRoundTripAndShareTheirFilesAsBlobs() {
        byte[] control = bytes(8192, 1);
        byte[] clog = bytes(8192, 2);
        TimelineId tl;
        try (Store s = Store.open(tmp.resolve("store"))) {
            tl = s.timelines().create(null, Lsn.INVALID, 1).id();
            s.anchors().put(new StoredAnchor(tl, Lsn.of(0x2000), Lsn.of(0x1000), Lsn.of(0x2080), 1, control,
                    Map.of("pg_xact/0000", clog)));
            s.anchors().put(new StoredAnchor(tl, Lsn.of(0x5000), Lsn.of(0x4000), Lsn.of(0x5080), 1, control,
                    Map.of("pg_xact/0000", clog, "pg_multixact/offsets/0000", bytes(100, 3))));
            assertEquals(2, s.stats().entries().get("blobs"), "the same CLOG segment is stored once");
            // no image refers to them, but anchors do: the sweep keeps them
            s.garbage().collect(Map.of(tl, List.of()));
            assertEquals(2, s.stats().entries().get("blobs"));
        }
        try (Store s = Store.open(tmp.resolve("store"))) {
            List<StoredAnchor> all = s.anchors().of(tl);
            assertEquals(List.of(Lsn.of(0x2000), Lsn.of(0x5000)), all.stream().map(StoredAnchor::checkpointLsn).toList());
            StoredAnchor a = all.get(1);
            assertEquals(Lsn.of(0x4000), a.redoLsn());
            assertEquals(Lsn.of(0x5080), a.recordEnd());
            assertArrayEquals(control, a.pgControl());
            assertArrayEquals(clog, a.files().get("pg_xact/0000"));
            assertEquals(100, a.files().get("pg_multixact/offsets/0000").length);
            assertTrue(s.anchors().get(tl, Lsn.of(0x3000)).isEmpty());
            // where they stand, read without their files (a rebuild chooses among them so)
            assertEquals(List.of(new AnchorStore.Point(tl, Lsn.of(0x2000), Lsn.of(0x1000), Lsn.of(0x2080)),
                    new AnchorStore.Point(tl, Lsn.of(0x5000), Lsn.of(0x4000), Lsn.of(0x5080))), s.anchors().pointsOf(tl));
            assertEquals(List.of(), s.anchors().pointsOf(TimelineId.random()));
        }
        assertThrows(IllegalArgumentException.class, () -> new StoredAnchor(TimelineId.random(), Lsn.of(0x1000),
                Lsn.of(0x2000), Lsn.of(0x1080), 1, control, Map.of()), "redo point after the record");
    }

    @Test
    void aStepsPagesAndItsWatermarkCommitTogether() {
        try (Store s = Store.open(tmp.resolve("store"))) {
            TimelineId tl = s.timelines().create(null, Lsn.INVALID, 1).id();
            RelTag rel = new RelTag(new RelFileNode(1663, 5, 16384), ForkNumber.MAIN);
            s.watermarks().commit(tl, List.of(new PageWrite(tl, rel, 3, Lsn.of(0x1500), bytes(WalGeometry.BLCKSZ, 7))),
                    new Watermarks.Step(Lsn.of(0x2000), Lsn.of(0x1F00)));
            assertEquals(new Watermarks.Step(Lsn.of(0x2000), Lsn.of(0x1F00)), s.watermarks().watermark(tl).orElseThrow());
            assertEquals(Lsn.of(0x1500), s.pages().get(tl, rel, 3, Lsn.of(0x1F00)).orElseThrow().lsn());
            // a step below the watermark writes nothing, pages included
            assertThrows(IllegalStateException.class, () -> s.watermarks().commit(tl,
                    List.of(new PageWrite(tl, rel, 4, Lsn.of(0x1100), bytes(WalGeometry.BLCKSZ, 8))),
                    new Watermarks.Step(Lsn.of(0x1200), Lsn.of(0x1180))));
            assertTrue(s.pages().get(tl, rel, 4, Lsn.of(0x1F00)).isEmpty());
            assertEquals(1, s.watermarks().steps(tl).size());
            // a version already stored under a key (an image's page, hint bits and all) is kept
            byte[] imagePage = bytes(WalGeometry.BLCKSZ, 9);
            s.pages().put(tl, rel, 5, Lsn.of(0x2500), imagePage);
            s.watermarks().commit(tl, List.of(new PageWrite(tl, rel, 5, Lsn.of(0x2500), bytes(WalGeometry.BLCKSZ, 10)),
                    new PageWrite(tl, rel, 6, Lsn.of(0x2500), bytes(WalGeometry.BLCKSZ, 11))),
                    new Watermarks.Step(Lsn.of(0x3000), Lsn.of(0x2F00)));
            s.watermarks().putRunPages(List.of(new PageWrite(tl, rel, 5, Lsn.of(0x2500), bytes(WalGeometry.BLCKSZ, 12))));
            assertArrayEquals(imagePage, s.pages().get(tl, rel, 5, Lsn.of(0x2F00)).orElseThrow().page());
            assertArrayEquals(bytes(WalGeometry.BLCKSZ, 11), s.pages().get(tl, rel, 6, Lsn.of(0x2F00)).orElseThrow().page());
        }
    }

    private static byte[] bytes(int n, int seed) {
        byte[] b = new byte[n];
        new java.util.Random(seed).nextBytes(b);
        return b;
    }
}
