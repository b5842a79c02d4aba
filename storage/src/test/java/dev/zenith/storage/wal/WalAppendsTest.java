package dev.zenith.storage.wal;

import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.wal.ForkNumber;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.RelTag;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** Joining the receiver's acknowledged batches into one LMDB append. */
class WalAppendsTest {
    private static final TimelineId TL = TimelineId.random();
    private static final Lsn A = Lsn.parse("0/1000028");
    private static final RelTag REL = RelTag.of(1663, 5, 16384, ForkNumber.MAIN);

    @Test
    void joinsBytesAndIndexInOrderAndKeepsTheLastRecordEnd() {
        WalAppend first = new WalAppend(TL, A, new byte[] {1, 2, 3, 4}, List.of(new BlockChange(REL, 7, A)),
                List.of(new CommitRecord(A, 100)), List.of(), A.plus(4));
        WalAppend torn = WalAppend.raw(TL, A.plus(4), new byte[] {5, 6}); // a record still incomplete
        WalAppend last = new WalAppend(TL, A.plus(6), new byte[] {7, 8}, List.of(new BlockChange(REL, 9, A.plus(4))),
                List.of(), List.of(A.plus(4)), A.plus(7));
        WalAppend joined = WalAppends.concat(List.of(first, torn, last));
        assertEquals(A, joined.start());
        assertArrayEquals(new byte[] {1, 2, 3, 4, 5, 6, 7, 8}, joined.bytes());
        assertEquals(List.of(new BlockChange(REL, 7, A), new BlockChange(REL, 9, A.plus(4))), joined.blockChanges());
        assertEquals(List.of(new CommitRecord(A, 100)), joined.commits());
        assertEquals(List.of(A.plus(4)), joined.checkpoints());
        assertEquals(A.plus(7), joined.lastRecordEnd());
        assertEquals(A.plus(4), WalAppends.concat(List.of(first, torn)).lastRecordEnd());
        assertSame(first, WalAppends.concat(List.of(first)));
    }

    @Test
    void refusesAppendsThatDoNotFollowEachOther() {
        WalAppend a = WalAppend.raw(TL, A, new byte[4]);
        assertThrows(IllegalArgumentException.class,
                () -> WalAppends.concat(List.of(a, WalAppend.raw(TL, A.plus(5), new byte[1]))));
        assertThrows(IllegalArgumentException.class,
                () -> WalAppends.concat(List.of(a, WalAppend.raw(TimelineId.random(), A.plus(4), new byte[1]))));
        assertThrows(IllegalArgumentException.class, () -> WalAppends.concat(List.of()));
    }
}
