package dev.zenith.storage.lmdb;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.lmdbjava.Txn;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Random;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * LMDB reuses the pages a transaction frees only from the second transaction after it: a writer admitted on the used
 * bytes an eviction just lowered took its pages at the end of the file (a 16 MiB store's file grew to 21-23 MB while
 * its used bytes stayed under the bound). Eviction runs through {@link CacheRoom#freeing}: one small commit more, and
 * until then admission does not count the freed pages as room; nor after it while a read transaction from before it is
 * open (LMDB keeps the freed pages out of reuse until every reader's snapshot is at least the settle commit).
 */
class CacheRoomFreeingTest {
    private static final int VALUES = 400;

    @Test
    void pagesAnEvictionFreedAreReusedByTheNextWriterNotAddedAtTheFileEnd(@TempDir Path dir) throws Exception {
        try (Tables t = Tables.open(dir)) {
            write(t, 0);
            long high = highWater(t);
            long freed = t.room().freeing(() -> delete(t, 0));
            assertTrue(freed > 0);
            write(t, VALUES); // as much again, where the freed pages are
            long grown = highWater(t) - high;
            assertTrue(grown < high / 10, "the file grew by " + grown + " bytes over " + high + " for a write as large as"
                    + " what an eviction had freed");

            // without the commit after the freeing one, the same write takes new pages: what this guards against
            delete(t, VALUES);
            write(t, 2 * VALUES);
            assertTrue(highWater(t) - high - grown > high / 2, "the lesson of the test still holds: a write right after"
                    + " the freeing commit grows the file (" + highWater(t) + " vs " + (high + grown) + ")");
        }
    }

    @Test
    void admissionDoesNotCountFreedPagesAsRoomUntilTheCommitAfterTheFreeingOne() {
        AtomicLong used = new AtomicLong(14L << 20);
        AtomicInteger settled = new AtomicInteger();
        CacheRoom room = new CacheRoom(used::get, () -> 0, settled::incrementAndGet, () -> Long.MAX_VALUE);
        room.bound(16L << 20);
        long ask = 2L << 20;
        assertFalse(room.admits(ask));
        room.freeing(() -> {
            used.set(4L << 20); // the freeing commit
            room.changed();
            assertFalse(room.admits(ask), "freed pages are no room before the commit after the freeing one");
            assertEquals(0, settled.get());
            return 10L << 20;
        });
        assertEquals(1, settled.get());
        assertTrue(room.admits(ask));
        assertEquals(0, room.freeing(() -> 0L));
        assertEquals(1, settled.get(), "nothing freed, nothing to settle");
    }

    @Test
    void aReadTransactionFromBeforeTheSettleCommitKeepsTheFreedPagesFromBeingRoomUntilItCloses(@TempDir Path dir) throws Exception {
        try (Tables t = Tables.open(dir)) {
            write(t, 0);
            long high = highWater(t);
            long used = t.room().usedBytes();
            t.room().bound(used + used / 4); // full: eviction's freed pages are the only room for the next write
            long ask = used / 2;
            assertFalse(t.room().admits(ask));
            ReadTxn[] reader = new ReadTxn[1];
            t.room().freeing(() -> {
                long freed = delete(t, 0);
                reader[0] = t.read(); // a read (a used-bytes measure, a GetPage) begun between the freeing commit and the settle one
                return freed;
            });
            assertTrue(t.room().pinnedBytes() > ask, "the freed bytes are pinned: " + t.room().pinnedBytes());
            assertFalse(t.room().admits(ask), "no room while a reader from before the settle commit is open");
            try (ReadTxn later = t.read()) {
                assertFalse(t.room().admits(ask), "a reader begun after the settle commit does not release it: " + later);
            }
            reader[0].close();
            assertTrue(t.room().admits(ask), "once it closed, the freed pages are room");
            assertEquals(0, t.room().pinnedBytes());
            write(t, VALUES); // and they are reused: the file does not grow
            long grown = highWater(t) - high;
            assertTrue(grown < high / 10, "the file grew by " + grown + " bytes over " + high);

            // the lesson: with such a reader open, a write after the settle commit takes new pages at the file's end
            t.room().freeing(() -> {
                long freed = delete(t, VALUES);
                reader[0] = t.read();
                return freed;
            });
            write(t, 2 * VALUES);
            reader[0].close();
            assertTrue(highWater(t) - high - grown > high / 2, "a write while that reader is open grows the file ("
                    + highWater(t) + " vs " + (high + grown) + ")");
        }
    }

    @Test
    void aPooledReadOpenAcrossTheFreeingCountsToo(@TempDir Path dir) throws Exception {
        try (Tables t = Tables.open(dir)) {
            write(t, 0);
            long used = t.room().usedBytes();
            t.room().bound(used + used / 4);
            long ask = used / 2;
            t.reading(txn -> {
                t.room().freeing(() -> delete(t, 0)); // a GetPage's pooled read began before the freeing commit
                assertFalse(t.room().admits(ask), "no room while the pooled read is open");
                return null;
            });
            assertTrue(t.room().admits(ask), "back in the pool (reset), it holds no snapshot");
        }
    }

    /** {@link #VALUES} incompressible 8 KiB values (three overflow pages each) from key {@code from} on, in one commit. */
    private static void write(Tables t, int from) {
        Random random = new Random(from);
        try (Txn<byte[]> txn = t.write()) {
            for (int i = from; i < from + VALUES; i++) {
                byte[] value = new byte[8 << 10];
                random.nextBytes(value);
                t.pages().put(txn, key(i), value);
            }
            txn.commit();
        }
    }

    /** Deletes what {@link #write} wrote from {@code from} on, in one commit; the bytes deleted. */
    private static long delete(Tables t, int from) {
        try (Txn<byte[]> txn = t.write()) {
            for (int i = from; i < from + VALUES; i++) {
                t.pages().delete(txn, key(i));
            }
            txn.commit();
        }
        return (long) VALUES << 13;
    }

    private static byte[] key(int i) {
        return ByteBuffer.allocate(8).putLong(i).array();
    }

    private static long highWater(Tables t) {
        return (t.envInfo().lastPageNumber + 1) * t.envStat().pageSize;
    }
}
