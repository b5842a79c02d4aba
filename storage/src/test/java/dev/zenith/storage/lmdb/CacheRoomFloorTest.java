package dev.zenith.storage.lmdb;

import dev.zenith.storage.failure.StoreException;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Once eviction has nothing more it may evict (the page index, the pointers of evicted values, WAL S3 does not hold),
 * a write waiting for room can wait for nothing: at 16 MiB the branch's image at the daemon's stop waited 120 s at 13.0
 * of 16.8 MB (6.3 MB of it the page index) for eviction's target of 7.5 MB, then was skipped, and the reason blamed S3.
 * At the floor a write goes in alone when it fits under the bound itself, and the reasons name what holds the room.
 * The measures are given here; a real store's floor is reached in S3SmallCacheBoundTest.
 */
class CacheRoomFloorTest {
    private static final long BOUND = 16L << 20;

    @Test
    void atTheFloorAWriteThatFitsUnderTheBoundGoesInAlone() {
        AtomicLong used = new AtomicLong(13_100_000);
        CacheRoom room = new CacheRoom(used::get, () -> 6_300_000);
        room.bound(BOUND);
        long ask = BOUND / 8; // an image's batch of pages
        assertNull(room.admitOrAtTarget(ask), "13.1 + 2.1 MB is over 90% and eviction's target is far below");
        assertTrue(room.fullReason().contains("until S3 holds it"), "eviction may still free some: " + room.fullReason());

        room.atFloor("block_changes 6300000, pages 4900000");
        String why = room.fullReason();
        assertTrue(why.contains("eviction has nothing more it may evict") && why.contains("block_changes 6300000"), why);
        assertFalse(why.contains("until S3 holds it"), why);

        CacheRoom.Grant alone = room.admitOrAtTarget(ask);
        assertNotNull(alone, "at the floor, under the bound itself: waiting longer would free nothing");
        assertNull(room.admitOrAtTarget(ask), "alone only: the first write's grant is held");
        alone.close();

        used.set(BOUND - ask + 1);
        room.changed();
        assertNull(room.admitOrAtTarget(ask), "never past the bound itself");
        room.aboveFloor();
        assertTrue(room.fullReason().contains("until S3 holds it"), room.fullReason());
    }

    @Test
    void aWaitThatRunsOutSaysWhatHoldsTheFloor() {
        AtomicLong used = new AtomicLong(BOUND - 1_000_000);
        CacheRoom room = new CacheRoom(used::get, () -> 6_300_000);
        room.bound(BOUND);
        room.atFloor("pages 8000000");
        StoreException e = assertThrows(StoreException.class,
                () -> room.awaitRoom(BOUND / 8, Duration.ofMillis(200), "the image of timeline x"));
        assertTrue(e.getMessage().contains("eviction has nothing more it may evict (pages 8000000)"), e.getMessage());
    }
}
