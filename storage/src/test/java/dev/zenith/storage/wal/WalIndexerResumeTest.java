package dev.zenith.storage.wal;

import dev.zenith.storage.Store;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.segment.WalGeometry;
import dev.zenith.wal.testing.WalCrafter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;

/** A receiver restarted over stored WAL goes on decoding where the compute's next record starts. */
class WalIndexerResumeTest {
    private static final long SEG1 = WalGeometry.WAL_SEGMENT_SIZE;

    @TempDir
    Path tmp;

    /**
     * The stored WAL ends with a WAL switch and its padding (pg_switch_wal, then the daemon restarts): the next
     * record is at the next segment, not at the switch's aligned end, where the padding's zeros would read as
     * invalid WAL and the restarted receiver would acknowledge nothing more.
     */
    @Test
    void resumesAtTheNextSegmentAfterAWalSwitch() {
        WalCrafter crafter = new WalCrafter(Lsn.of(SEG1), 1, 0x1234_5678_9ABCL);
        crafter.noop(100);
        crafter.fillUntil(SEG1 + 3 * 8192 + 512);
        WalCrafter.Crafted switched = crafter.walSwitch();
        assertEquals(2 * SEG1, crafter.end().value(), "the padding fills the segment");
        crafter.noop(40);
        crafter.noop(3000);
        byte[] wal = Arrays.copyOf(crafter.segments(), (int) crafter.end().minus(Lsn.of(SEG1)));
        int switchedSegment = (int) SEG1;
        Lsn switchEnd = switched.start().plus(switched.totalLength());

        try (Store store = Store.open(tmp.resolve("store"))) {
            TimelineId tl = store.timelines().create(null, Lsn.INVALID, 1).id();
            store.wal().append(List.of(new WalAppend(tl, Lsn.of(SEG1), Arrays.copyOf(wal, switchedSegment), List.of(),
                    List.of(), List.of(), switchEnd)));
            WalIndexer indexer = WalIndexer.resume(store.wal(), tl);
            assertNull(indexer.feed(Arrays.copyOfRange(wal, switchedSegment, wal.length)),
                    "the records after the switch decode");
            WalAppend after = indexer.drain();
            assertNotNull(after);
            assertEquals(crafter.end(), after.lastRecordEnd(), "both records after the switch were decoded");
            store.wal().append(List.of(after));
            assertArrayEquals(wal, store.wal().read(tl, Lsn.of(SEG1), wal.length));
        }
    }

    /**
     * The stored WAL ends right after a WAL switch record, its padding not stored yet (the message boundary fell
     * there): the padding arrives after the restart, in pieces, and the records of the next segment decode.
     */
    @Test
    void resumesAfterAWalSwitchWhosePaddingArrivesLater() {
        for (int chunk : new int[] {8192, 100_000, 1 << 20}) {
            WalCrafter crafter = new WalCrafter(Lsn.of(SEG1), 1, 0x1234_5678_9ABCL);
            crafter.noop(100);
            WalCrafter.Crafted switched = crafter.walSwitch();
            crafter.noop(40);
            byte[] wal = Arrays.copyOf(crafter.segments(), (int) crafter.end().minus(Lsn.of(SEG1)));
            Lsn switchEnd = switched.start().plus(switched.totalLength());
            int stored = (int) switchEnd.minus(Lsn.of(SEG1));
            try (Store store = Store.open(tmp.resolve("store-" + chunk))) {
                TimelineId tl = store.timelines().create(null, Lsn.INVALID, 1).id();
                store.wal().append(List.of(new WalAppend(tl, Lsn.of(SEG1), Arrays.copyOf(wal, stored), List.of(),
                        List.of(), List.of(), switchEnd)));
                WalIndexer indexer = WalIndexer.resume(store.wal(), tl);
                Lsn lastRecordEnd = null;
                for (int at = stored; at < wal.length; at += chunk) {
                    assertNull(indexer.feed(Arrays.copyOfRange(wal, at, Math.min(wal.length, at + chunk))),
                            "pieces of " + chunk + " bytes");
                    WalAppend a = indexer.drain();
                    if (a != null) {
                        store.wal().append(List.of(a));
                        lastRecordEnd = a.lastRecordEnd() != null ? a.lastRecordEnd() : lastRecordEnd;
                    }
                }
                assertEquals(crafter.end(), lastRecordEnd, "the record after the switch was decoded");
                assertArrayEquals(wal, store.wal().read(tl, Lsn.of(SEG1), wal.length));
            }
        }
    }

    /** Without a switch the next record starts at the last one's aligned end, as before. */
    @Test
    void resumesAtTheAlignedEndOfTheLastRecord() {
        WalCrafter crafter = new WalCrafter(Lsn.of(SEG1), 1, 0x1234_5678_9ABCL);
        WalCrafter.Crafted first = crafter.noop(13);
        crafter.noop(5000);
        byte[] wal = Arrays.copyOf(crafter.segments(), (int) crafter.end().minus(Lsn.of(SEG1)));
        int firstEnd = (int) (first.start().value() + first.totalLength() - SEG1);
        try (Store store = Store.open(tmp.resolve("store"))) {
            TimelineId tl = store.timelines().create(null, Lsn.INVALID, 1).id();
            store.wal().append(List.of(new WalAppend(tl, Lsn.of(SEG1), Arrays.copyOf(wal, firstEnd), List.of(),
                    List.of(), List.of(), Lsn.of(SEG1 + firstEnd))));
            WalIndexer indexer = WalIndexer.resume(store.wal(), tl);
            assertNull(indexer.feed(Arrays.copyOfRange(wal, firstEnd, wal.length)));
            assertEquals(crafter.end(), indexer.drain().lastRecordEnd());
        }
    }
}
