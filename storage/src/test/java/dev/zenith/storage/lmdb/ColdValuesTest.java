package dev.zenith.storage.lmdb;

import dev.zenith.storage.Store;
import dev.zenith.storage.failure.StoreCorruptException;
import dev.zenith.storage.failure.StoreException;
import dev.zenith.storage.image.Blobs;
import dev.zenith.storage.page.PageVersion;
import dev.zenith.storage.page.PageWrite;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.wal.ForkNumber;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.RelTag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Evicted values ({@link ColdValues}): page versions packed into segments and replaced by pointers read back
 * exactly through the segment source, freeing the store's pages; the least recently read go first; a value
 * changed after packing is not replaced; a damaged segment or no source at all is an error naming it, never
 * data. The segment source here is a map of segments by hash, standing for the storage's S3 prefix (the
 * server's s3 tests read them from a real S3 server).
 */
class ColdValuesTest {
    private static final int BLOCKS = 600;

    @TempDir
    Path tmp;

    @Test
    void evictedPagesAreReadBackThroughTheirSegmentAndChecked() throws Exception {
        try (Store store = Store.open(tmp.resolve("store"))) {
            TimelineId tl = store.timelines().create(null, Lsn.INVALID, 1).id();
            RelTag rel = RelTag.of(1663, 5, 16384, ForkNumber.MAIN);
            List<PageWrite> writes = new ArrayList<>();
            for (int b = 0; b < BLOCKS; b++) {
                writes.add(new PageWrite(tl, rel, b, Lsn.of(0x100), page(b)));
            }
            store.pages().putAll(writes);
            long usedBefore = store.stats().usedBytes();
            // the last 100 blocks were read recently: they are the warmest and stay
            for (int b = BLOCKS - 100; b < BLOCKS; b++) {
                store.pages().get(tl, rel, b, Lsn.of(0x100));
            }
            ColdValues cold = store.coldValues();
            List<ColdValues.Segment> segments = cold.coldest(400 * 8200L, 1 << 20);
            assertTrue(segments.size() >= 3, "about 400 pages in segments of 1 MiB: " + segments.size());
            // one value changes after it was packed: it must not be replaced by a pointer to its old bytes
            store.pages().put(tl, rel, 0, Lsn.of(0x100), page(9999));
            Map<String, byte[]> s3 = new HashMap<>();
            long freed = 0;
            for (ColdValues.Segment s : segments) {
                byte[] sha = Blobs.sha256(s.bytes());
                s3.put(HexFormat.of().formatHex(sha), s.bytes());
                freed += cold.evict(s, sha);
            }
            assertTrue(freed > 300 * 8000L, "freed " + freed);
            assertTrue(store.stats().usedBytes() < usedBefore - 300 * 8000L,
                    "LMDB's used pages shrink: " + usedBefore + " -> " + store.stats().usedBytes());

            // no source yet: an error naming the segment
            StoreException none = assertThrows(StoreException.class, () -> store.pages().get(tl, rel, 1, Lsn.of(0x100)));
            assertTrue(none.getMessage().contains("evicted to segment"), none.getMessage());

            cold.source((sha, length) -> s3.get(HexFormat.of().formatHex(sha)));
            for (int b = 0; b < BLOCKS; b++) {
                byte[] expected = b == 0 ? page(9999) : page(b);
                assertArrayEquals(expected, store.pages().get(tl, rel, b, Lsn.of(0x100)).map(PageVersion::page).orElseThrow(),
                        "block " + b);
            }
            assertTrue(cold.fetchedValues() >= 300, "read back: " + cold.fetchedValues());
            byte[] scanned = new byte[BLOCKS * 8192];
            store.pages().readBlocks(tl, rel, Lsn.of(0x100), 0, BLOCKS, false, scanned, 0);
            assertArrayEquals(page(7), java.util.Arrays.copyOfRange(scanned, 7 * 8192, 8 * 8192));
            // evicted ones are not packed again
            assertTrue(cold.coldest(Long.MAX_VALUE, 1 << 20).stream().mapToInt(s -> s.values().size()).sum() <= BLOCKS - 399);

            // a flipped byte in a segment: the value's CRC-32C refuses it
            for (byte[] s : s3.values()) {
                for (int i = 100; i < s.length; i += 8192) {
                    s[i] ^= 0x01;
                }
            }
            StoreCorruptException damaged = assertThrows(StoreCorruptException.class,
                    () -> store.pages().get(tl, rel, 1, Lsn.of(0x100)));
            assertTrue(damaged.getMessage().contains("read back from segment") && damaged.getMessage().contains("damaged"),
                    damaged.getMessage());
        }
    }

    @Test
    void aScanOfMoreEntriesThanOneReadTransactionLooksAtFindsEveryValueOnce() throws Exception {
        int values = 2 * ColdValues.SCAN_BATCH + 17;
        try (Tables t = Tables.open(tmp.resolve("scan"))) {
            Random random = new Random(3);
            try (org.lmdbjava.Txn<byte[]> txn = t.write()) {
                for (int i = 0; i < values; i++) {
                    byte[] value = new byte[ColdValues.MIN_EVICTED_BYTES + i % 100];
                    random.nextBytes(value);
                    t.blobs().put(txn, java.nio.ByteBuffer.allocate(8).putLong(i).array(), value);
                }
                t.blobs().put(txn, new byte[] {1}, new byte[100]); // too small: stays
                txn.commit();
            }
            java.util.Set<Long> seen = new java.util.HashSet<>();
            for (ColdValues.Segment s : t.cold().coldest(Long.MAX_VALUE, 1 << 20)) {
                for (ColdValues.Packed p : s.values()) {
                    assertEquals(8, p.key().length);
                    assertTrue(seen.add(java.nio.ByteBuffer.wrap(p.key()).getLong()), "packed twice: " + seen.size());
                }
            }
            assertEquals(values, seen.size(), "every value, across the scan's read transactions");
        }
    }

    @Test
    void theStoreReopensWithItsPointers() throws Exception {
        Map<String, byte[]> s3 = new HashMap<>();
        TimelineId tl;
        RelTag rel = RelTag.of(1663, 5, 16385, ForkNumber.MAIN);
        try (Store store = Store.open(tmp.resolve("s"))) {
            tl = store.timelines().create(null, Lsn.INVALID, 1).id();
            List<PageWrite> writes = new ArrayList<>();
            for (int b = 0; b < 50; b++) {
                writes.add(new PageWrite(tl, rel, b, Lsn.of(0x200), page(b)));
            }
            store.pages().putAll(writes);
            for (ColdValues.Segment s : store.coldValues().coldest(Long.MAX_VALUE, 1 << 20)) {
                byte[] sha = Blobs.sha256(s.bytes());
                s3.put(HexFormat.of().formatHex(sha), s.bytes());
                store.coldValues().evict(s, sha);
            }
        }
        try (Store store = Store.open(tmp.resolve("s"))) {
            store.coldValues().source((sha, length) -> s3.get(HexFormat.of().formatHex(sha)));
            for (int b = 0; b < 50; b++) {
                assertArrayEquals(page(b), store.pages().get(tl, rel, b, Lsn.of(0x200)).map(PageVersion::page).orElseThrow());
            }
            assertEquals(50, store.coldValues().fetchedValues());
        }
    }

    @Test
    void withoutFetchingAnEvictedValueIsSignalledNotDownloaded() throws Exception {
        Map<String, byte[]> s3 = new HashMap<>();
        RelTag rel = RelTag.of(1663, 5, 16386, ForkNumber.MAIN);
        try (Store store = Store.open(tmp.resolve("w"))) {
            TimelineId tl = store.timelines().create(null, Lsn.INVALID, 1).id();
            ColdValues cold = store.coldValues();
            int packed = writeAndEvict(store, tl, rel, 20, Lsn.of(0x300), 10 * 8200L, s3);
            // a source that downloads, and holds in memory only what it downloaded before
            Map<String, byte[]> held = new HashMap<>();
            cold.source(new SegmentSource() {
                @Override
                public byte[] segment(byte[] sha256, int length) {
                    byte[] bytes = s3.get(HexFormat.of().formatHex(sha256));
                    held.put(HexFormat.of().formatHex(sha256), bytes);
                    return bytes;
                }

                @Override
                public byte[] held(byte[] sha256, int length) {
                    return held.get(HexFormat.of().formatHex(sha256));
                }
            });
            int evicted = 0;
            for (int b = 0; b < 20; b++) {
                int block = b;
                try {
                    byte[] resident = ColdValues.withoutFetching(() -> store.pages().get(tl, rel, block, Lsn.of(0x300)))
                            .map(PageVersion::page).orElseThrow();
                    assertArrayEquals(page(b), resident, "block " + b);
                } catch (EvictedValueException e) {
                    assertTrue(e.getMessage().contains("evicted to segment"), e.getMessage());
                    evicted++;
                }
            }
            assertTrue(packed >= 10 && packed < 20, "about half evicted: " + packed);
            assertEquals(packed, evicted, "every evicted one is signalled");
            assertEquals(0, cold.fetchedValues(), "nothing was downloaded");
            assertTrue(held.isEmpty());
            // read where a download may be waited for, then held: the same read without fetching answers it
            for (int b = 0; b < 20; b++) {
                assertArrayEquals(page(b), store.pages().get(tl, rel, b, Lsn.of(0x300)).map(PageVersion::page).orElseThrow());
            }
            for (int b = 0; b < 20; b++) {
                int block = b;
                assertArrayEquals(page(b), ColdValues.withoutFetching(() -> store.pages().get(tl, rel, block, Lsn.of(0x300)))
                        .map(PageVersion::page).orElseThrow());
            }
        }
    }

    @Test
    void valuesReadBackAreWrittenBackWhileTheBoundLeavesRoom() throws Exception {
        Map<String, byte[]> s3 = new HashMap<>();
        RelTag rel = RelTag.of(1663, 5, 16387, ForkNumber.MAIN);
        try (Store store = Store.open(tmp.resolve("b"))) {
            TimelineId tl = store.timelines().create(null, Lsn.INVALID, 1).id();
            ColdValues cold = store.coldValues();
            writeAndEvict(store, tl, rel, 40, Lsn.of(0x400), Long.MAX_VALUE, s3);
            cold.source((sha, length) -> s3.get(HexFormat.of().formatHex(sha)));
            long evictedUsed = store.stats().usedBytes();

            // no room under where eviction starts: read back every time, nothing written back
            store.cacheRoom().bound(evictedUsed);
            for (int b = 0; b < 20; b++) {
                assertArrayEquals(page(b), store.pages().get(tl, rel, b, Lsn.of(0x400)).map(PageVersion::page).orElseThrow());
            }
            assertEquals(0, cold.writeBack());
            assertEquals(20, cold.fetchedValues());

            // room: the values read back are stored again, and read locally from then on
            store.cacheRoom().bound(1L << 30);
            for (int b = 0; b < 20; b++) {
                assertArrayEquals(page(b), store.pages().get(tl, rel, b, Lsn.of(0x400)).map(PageVersion::page).orElseThrow());
            }
            // one of them changes before the write-back: the new value stays
            store.pages().put(tl, rel, 3, Lsn.of(0x400), page(3333));
            assertEquals(19, cold.writeBack());
            assertEquals(19, cold.writtenBackValues());
            assertEquals(40, cold.fetchedValues());
            assertTrue(store.stats().usedBytes() > evictedUsed + 19 * 8000L, "stored again: " + store.stats().usedBytes());
            cold.source((sha, length) -> {
                throw new StoreException("S3 is gone");
            }); // what was written back needs no download
            for (int b = 0; b < 20; b++) {
                assertArrayEquals(b == 3 ? page(3333) : page(b),
                        store.pages().get(tl, rel, b, Lsn.of(0x400)).map(PageVersion::page).orElseThrow(), "block " + b);
            }
            assertEquals(40, cold.fetchedValues());
            // the others are still pointers; their segments are still named
            assertThrows(StoreException.class, () -> store.pages().get(tl, rel, 30, Lsn.of(0x400)));
            assertTrue(!cold.referencedSegments().isEmpty());
        }
    }

    /** Writes blocks 0 to {@code blocks - 1} at {@code lsn}, then evicts the coldest {@code bytes} into {@code s3}; how many. */
    private static int writeAndEvict(Store store, TimelineId tl, RelTag rel, int blocks, Lsn lsn, long bytes,
                                     Map<String, byte[]> s3) {
        List<PageWrite> writes = new ArrayList<>();
        for (int b = 0; b < blocks; b++) {
            writes.add(new PageWrite(tl, rel, b, lsn, page(b)));
        }
        store.pages().putAll(writes);
        int packed = 0;
        for (ColdValues.Segment s : store.coldValues().coldest(bytes, 1 << 20)) {
            packed += s.values().size();
            byte[] sha = Blobs.sha256(s.bytes());
            s3.put(HexFormat.of().formatHex(sha), s.bytes());
            store.coldValues().evict(s, sha);
        }
        return packed;
    }

    /** A valid page of incompressible bytes, marked with its block. */
    private static byte[] page(int block) {
        byte[] p = new byte[8192];
        new Random(block).nextBytes(p);
        java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(p).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        b.putLong(0, 0x100L);
        b.putShort(8, (short) 0);
        b.putShort(10, (short) 0);
        b.putShort(12, (short) 24);
        b.putShort(14, (short) 8192);
        b.putShort(16, (short) 8192);
        b.putShort(18, (short) (8192 | 4));
        b.putInt(20, 0);
        b.putInt(100, block);
        return p;
    }
}
