package dev.zenith.storage.lmdb;

import org.junit.jupiter.api.Test;

import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A batch writer (an image's pages, a materialization step's parts) can split what it writes: at the floor eviction
 * reached it is granted as much as fits under 90% of the bound ({@link CacheRoom#admitUpTo}), where its whole batch went
 * in alone up to the bound itself ({@link CacheRoom#admitOrAtTarget}: used bytes at 96-100% of it). Away from the
 * floor it waits whole for eviction, as before.
 */
class CacheRoomUpToTest {
    private static final long BOUND = 48L << 20;
    private static final long PAGE = CacheRoom.STORED_PAGE_BYTES;

    @Test
    void atTheFloorABatchGoesInOnlyAsFarAsNinetyPercent() {
        AtomicLong used = new AtomicLong((long) (BOUND * 0.85));
        CacheRoom room = new CacheRoom(used::get, () -> 10L << 20);
        room.bound(BOUND);
        room.atFloor("pages 30000000");
        long batch = BOUND / 8;

        CacheRoom.Grant whole = room.admitOrAtTarget(batch);
        assertNotNull(whole, "the whole batch alone at the floor");
        assertTrue(used.get() + whole.granted() > (long) (BOUND * 0.97), "up to 97.5% of the bound");
        whole.close();

        CacheRoom.Grant part = room.admitUpTo(PAGE, batch);
        assertNotNull(part);
        assertEquals((long) (BOUND * 0.9) - used.get(), part.granted(), "what fits under 90%, not the batch");
        assertNull(room.admitUpTo(PAGE, batch), "nothing more beside it");
        part.close();

        used.addAndGet(part.granted()); // written: the store at 90%
        room.changed();
        CacheRoom.Grant page = room.admitUpTo(PAGE, batch);
        assertNotNull(page, "at the floor, one page alone still goes in: waiting would free nothing");
        assertEquals(PAGE, page.granted());
        page.close();

        room.aboveFloor(); // eviction frees again: the writer waits for it
        assertNull(room.admitUpTo(PAGE, batch));
        assertEquals(batch, room.waitingAsk(), "eviction makes room for the whole batch");
    }

    @Test
    void awayFromTheFloorTheWholeAskOrNothingAndUnboundedEverything() {
        AtomicLong used = new AtomicLong(20L << 20);
        CacheRoom room = new CacheRoom(used::get, () -> 0);
        assertEquals(1L << 40, room.admitUpTo(PAGE, 1L << 40).granted(), "unbounded: all of it");
        room.bound(BOUND);
        CacheRoom.Grant g = room.admitUpTo(PAGE, BOUND / 8);
        assertEquals(BOUND / 8, g.granted());
        assertEquals((long) (BOUND * 0.9) - (20L << 20) - BOUND / 8, room.admissible(), "held for the writer");
        g.close();

        used.set((long) (BOUND * 0.85));
        room.changed();
        assertNull(room.admitUpTo(PAGE, BOUND / 8), "away from the floor the batch waits whole for eviction");
        assertEquals(BOUND / 8, room.waitingAsk());
    }
}
