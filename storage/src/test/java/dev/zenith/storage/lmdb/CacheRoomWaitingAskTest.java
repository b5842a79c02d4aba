package dev.zenith.storage.lmdb;

import org.junit.jupiter.api.Test;

import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * An ask refused for room must make eviction run for it, down to where it fits, even when the store is below where
 * eviction usually starts (60%): before, an ask above 30% of the bound could wait for good between "does not fit"
 * (used + ask above 90%) and "eviction starts" (used above 60%), as a 4 MiB WAL batch (asking 8 MiB) did against a
 * 24 MiB bound at S3ColdPageFetchTest's `pg stop` in stop 30's CI; and a materialization step asking more than 45%
 * never fitted. The measures are given here (eviction is played by setting the used bytes to its target); a real
 * store's eviction is in the s3 tests.
 */
class CacheRoomWaitingAskTest {
    private static final long BOUND = 24L << 20;

    @Test
    void anAskInTheBandWhereEvictionDidNotStartMakesItRunUntilTheAskFits() {
        AtomicLong used = new AtomicLong();
        CacheRoom room = new CacheRoom(used::get, () -> 0);
        room.bound(BOUND);
        long ask = 8L << 20; // a 4 MiB batch of WAL, at two stored bytes per WAL byte
        used.set((long) (BOUND * 0.9) - ask + (100 << 10)); // 13.7 MiB: just too full for it, below 60% (14.4 MiB)
        assertFalse(room.evictionWanted(), "nothing asked yet: below where eviction starts");

        assertFalse(room.admits(ask));
        assertEquals(ask, room.waitingAsk());
        assertTrue(room.evictionWanted(), "the refused ask makes eviction run");
        assertEquals((long) (BOUND * CacheRoom.EVICT_DOWN_TO), room.evictionTarget(), "it fits at the usual target");
        assertFalse(room.keeps(4096), "nothing merely worth keeping takes the room the ask waits for");

        used.set(room.evictionTarget()); // eviction did its pass
        room.changed();
        assertTrue(room.admits(ask));
        assertEquals(0, room.waitingAsk(), "admitted: no longer waiting");
        assertFalse(room.evictionWanted());
        assertTrue(room.keeps(4096));
    }

    @Test
    void anAskLargerThanTheUsualTargetLeavesRoomForIsMadeRoomFor() {
        AtomicLong used = new AtomicLong((long) (BOUND * 0.4)); // below even the usual target (45%)
        CacheRoom room = new CacheRoom(used::get, () -> 0);
        room.bound(BOUND);
        long step = (long) (BOUND * 0.7); // a materialization step of 70% of the bound: never fitted before
        assertTrue(room.canEverAdmit(step));
        assertFalse(room.admits(step));
        assertTrue(room.evictionWanted());
        long target = room.evictionTarget();
        assertEquals((long) (BOUND * 0.9) - step, target, "down to where the step fits under 90%");

        used.set(target);
        room.changed();
        assertFalse(room.evictionWanted(), "at the target: done");
        assertTrue(room.admits(step));
        assertEquals((long) (BOUND * CacheRoom.EVICT_DOWN_TO), room.evictionTarget(), "the usual target again");
    }

    @Test
    void anAskThatCanNeverFitIsNotMadeRoomFor() {
        AtomicLong used = new AtomicLong((long) (BOUND * 0.4));
        CacheRoom room = new CacheRoom(used::get, () -> 0);
        room.bound(BOUND);
        long tooBig = BOUND; // more than 90% of the bound even in an empty store
        assertFalse(room.canEverAdmit(tooBig));
        assertFalse(room.admits(tooBig));
        assertEquals(0, room.waitingAsk());
        assertFalse(room.evictionWanted(), "evicting everything would not let it in");
        assertEquals((long) (BOUND * CacheRoom.EVICT_DOWN_TO), room.evictionTarget());
    }

    @Test
    void theLargestWaitingAskIsTheOneMadeRoomForAndWhatMoreFitsIsSaidWithoutAsking() {
        AtomicLong used = new AtomicLong((long) (BOUND * 0.5));
        CacheRoom room = new CacheRoom(used::get, () -> 0);
        assertEquals(Long.MAX_VALUE, room.admissible(), "unbounded");
        room.bound(BOUND);
        assertFalse(room.admits((long) (BOUND * 0.6)));
        assertFalse(room.admits((long) (BOUND * 0.5)));
        assertEquals((long) (BOUND * 0.6), room.waitingAsk(), "the larger ask still waits");
        assertTrue(room.admits((long) (BOUND * 0.1)), "a small ask goes in meanwhile");
        assertEquals((long) (BOUND * 0.6), room.waitingAsk(), "and the larger one still waits");
        assertEquals((long) (BOUND * 0.9) - (long) (BOUND * 0.5), room.admissible());
    }

    /**
     * What grows the store in big units is sized to the bound, so that eviction can always make room for one beside a
     * page index it never evicts: under a 12 MiB bound a 4 MiB WAL batch asked 8 MiB, and with the 3 MB index a 27,000-
     * row load left, eviction had to reach 2.9 MB, which it never could: the WAL stayed in the journal for good (found
     * in S3SmallCacheBoundTest). Now a batch asks an eighth of the bound, and a materialization step's part too.
     */
    @Test
    void walBatchesAndStepPartsAskAnEighthOfTheBound() {
        AtomicLong used = new AtomicLong();
        long index = 3_076_096; // the page index the 12 MiB test had, never evicted
        CacheRoom room = new CacheRoom(used::get, () -> index);
        assertEquals(4 << 20, room.walBatchBytes(4 << 20, 2), "unbounded: as configured");
        assertEquals(Integer.MAX_VALUE, room.pagesPerTransaction(), "unbounded: one transaction");
        long bound = 12L << 20;
        room.bound(bound);
        int batch = room.walBatchBytes(4 << 20, 2);
        assertEquals(bound / 16, batch);
        assertEquals(128, room.pagesPerTransaction());
        CacheRoom tiny = new CacheRoom(used::get, () -> 0);
        tiny.bound(1L << 20);
        assertEquals(64 << 10, tiny.walBatchBytes(4 << 20, 2), "at least 64 KiB of WAL");
        // the index, the newest WAL chunk kept (1 MiB) and a little more: what eviction cannot go below
        used.set(index + (1 << 20) + (512 << 10));
        assertFalse(room.admits(2L * (4 << 20)), "the old 4 MiB batch never fits there");
        assertTrue(room.admits(2L * batch), "a batch fits beside what is never evicted");
        assertTrue(room.admits((long) room.pagesPerTransaction() * CacheRoom.STORED_PAGE_BYTES), "and a step's part");
    }
}
