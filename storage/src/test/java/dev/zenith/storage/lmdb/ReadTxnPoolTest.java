package dev.zenith.storage.lmdb;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.lmdbjava.GetOp;
import org.lmdbjava.Txn;

import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Reused read transactions: one is renewed, not begun, and each read still sees the newest commit. */
class ReadTxnPoolTest {
    @TempDir
    Path dir;

    @Test
    void aReusedTransactionSeesWhatWasCommittedSinceItsLastRead() throws Exception {
        byte[] key = Tables.utf8("k");
        try (Tables t = Tables.open(dir.resolve("store"))) {
            AtomicReference<Txn<byte[]>> first = new AtomicReference<>();
            assertNull(t.reading(txn -> {
                first.set(txn);
                return t.meta().get(txn, key);
            }));
            put(t, key, "one");
            // the same transaction (renewed: no new begin), on the snapshot of the newest commit
            assertArrayEquals(Tables.utf8("one"), t.reading(txn -> {
                assertSame(first.get(), txn);
                return t.meta().get(txn, key);
            }));
            put(t, key, "two");
            assertArrayEquals(Tables.utf8("two"), t.reading(txn -> t.meta().get(txn, key)));
        }
    }

    @Test
    void aFailedReadDropsItsTransactionAndNestedReadsGetTheirOwn() throws Exception {
        try (Tables t = Tables.open(dir.resolve("store"))) {
            AtomicReference<Txn<byte[]>> failed = new AtomicReference<>();
            assertThrows(IllegalStateException.class, () -> t.reading(txn -> {
                failed.set(txn);
                throw new IllegalStateException("boom");
            }));
            int distinct = t.reading(outer -> t.reading(inner -> {
                assertFalse(outer == failed.get() || inner == failed.get());
                return outer == inner ? 1 : 2;
            }));
            assertEquals(2, distinct);
        }
        // closing with idle transactions in the pool, then reopening: nothing left holds the environment
        try (Tables t = Tables.open(dir.resolve("store"))) {
            assertNull(t.reading(txn -> t.meta().get(txn, Tables.utf8("absent"))));
        }
    }

    @Test
    void aCursorKeptWithItsTransactionIsRenewedWithItAndSeesEachNewCommit() throws Exception {
        byte[] key = Tables.utf8("k");
        try (Tables t = Tables.open(dir.resolve("store"))) {
            AtomicReference<TableCursor> first = new AtomicReference<>();
            boolean found = t.reading(t.meta(), (txn, c) -> {
                first.set(c);
                return c.get(key, GetOp.MDB_SET_KEY);
            });
            assertFalse(found);
            put(t, key, "one");
            assertArrayEquals(Tables.utf8("one"), t.reading(t.meta(), (txn, c) -> {
                assertSame(first.get(), c); // not opened again
                assertTrue(c.get(key, GetOp.MDB_SET_KEY));
                return c.val();
            }));
            put(t, key, "two");
            assertArrayEquals(Tables.utf8("two"), t.reading(t.meta(), (txn, c) -> {
                assertSame(first.get(), c);
                assertTrue(c.get(key, GetOp.MDB_SET_KEY));
                return c.val();
            }));
            // a failed read closes its transaction and cursor: the next read gets new ones, on the newest commit
            assertThrows(IllegalStateException.class, () -> t.reading(t.meta(), (txn, c) -> {
                throw new IllegalStateException("boom");
            }));
            put(t, key, "three");
            assertArrayEquals(Tables.utf8("three"), t.reading(t.meta(), (txn, c) -> {
                assertNotSame(first.get(), c);
                assertTrue(c.get(key, GetOp.MDB_SET_KEY));
                return c.val();
            }));
        }
    }

    @Test
    void cursorsOnSeveralTablesAreKeptWithOneTransactionAndEachSeesTheNewestCommit() throws Exception {
        byte[] key = Tables.utf8("k");
        try (Tables t = Tables.open(dir.resolve("store"))) {
            AtomicReference<TableCursor> meta = new AtomicReference<>();
            AtomicReference<TableCursor> pages = new AtomicReference<>();
            boolean found = t.readingWithCursors(r -> {
                meta.set(r.cursor(t.meta()));
                pages.set(r.cursor(t.pages()));
                assertNotSame(meta.get(), pages.get());
                assertSame(meta.get(), r.cursor(t.meta())); // asked again in the same read: the same one
                return meta.get().get(key, GetOp.MDB_SET_KEY) || pages.get().get(key, GetOp.MDB_SET_KEY);
            });
            assertFalse(found);
            put(t, key, "one");
            try (Txn<byte[]> w = t.write()) {
                t.pages().put(w, key, Tables.utf8("page"));
                w.commit();
            }
            // both renewed with the transaction (not opened again), on the newest commit
            assertEquals("one/page", t.readingWithCursors(r -> {
                assertSame(meta.get(), r.cursor(t.meta()));
                assertSame(pages.get(), r.cursor(t.pages()));
                assertTrue(r.cursor(t.meta()).get(key, GetOp.MDB_SET_KEY));
                assertTrue(r.cursor(t.pages()).get(key, GetOp.MDB_SET_KEY));
                return new String(r.cursor(t.meta()).val(), java.nio.charset.StandardCharsets.UTF_8) + "/"
                        + new String(r.cursor(t.pages()).val(), java.nio.charset.StandardCharsets.UTF_8);
            }));
        }
    }

    private static void put(Tables t, byte[] key, String value) {
        try (Txn<byte[]> w = t.write()) {
            t.meta().put(w, key, Tables.utf8(value));
            w.commit();
        }
    }
}
