package dev.zenith.storage.lmdb;

import org.junit.jupiter.api.Test;

import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The room a bound leaves counts the page index apart (never evicted): when it alone exceeds eviction's target the
 * reason growth waits says so (raise the bound or GC), not "until S3 holds it". The measures are given here; a real
 * store's are shown by the s3 tests ({@code offload.index_bytes}).
 */
class CacheRoomIndexTest {
    @Test
    void thePageIndexIsNamedWhenItAloneCrowdsTheBound() {
        AtomicLong used = new AtomicLong(90 << 20);
        AtomicLong index = new AtomicLong(10 << 20);
        CacheRoom room = new CacheRoom(used::get, index::get);
        assertFalse(room.indexCrowds(), "unbounded: nothing crowds");

        room.bound(100 << 20); // the index is 10% of the bound: eviction can still reach 45%
        assertFalse(room.admits(1 << 20));
        assertFalse(room.indexCrowds());
        assertTrue(room.fullReason().contains("until S3 holds it"), room.fullReason());

        index.set(50 << 20); // half the bound: eviction can never bring the store down to 45%
        assertTrue(room.indexCrowds());
        String why = room.fullReason();
        assertTrue(why.contains("the page index alone fills it") && why.contains((50 << 20) + " of them the page index"), why);
        assertFalse(why.contains("until S3 holds it"), why);
    }
}
