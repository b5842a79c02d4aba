package dev.zenith.storage;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A copy of a store whose file is far above what it holds (most of it freed) leaves the free pages out. */
class StoreCopyTest {
    @Test
    void aCopyOfAMostlyFreedStoreIsAboutWhatItHolds(@TempDir Path dir) throws Exception {
        byte[] kept = new byte[1 << 20];
        new Random(1).nextBytes(kept);
        try (Store store = Store.open(dir.resolve("store"))) {
            byte[] value = new byte[1 << 20];
            Random r = new Random(2);
            for (int i = 0; i < 40; i++) {
                r.nextBytes(value);
                store.documents().put("big/" + i, value);
            }
            store.documents().put("kept", kept);
            for (int i = 0; i < 40; i++) {
                store.documents().delete("big/" + i);
            }
            StoreStats stats = store.stats();
            assertTrue(stats.highWaterBytes() > 20L * stats.usedBytes(), "mostly freed: " + stats);
            store.copyTo(Files.createDirectory(dir.resolve("copy")));
            long copied = Files.size(dir.resolve("copy").resolve("data.mdb"));
            assertTrue(copied < 4 * stats.usedBytes(), "the copy holds the used pages, not the file: " + copied + " of " + stats);
        }
        try (Store copy = Store.open(dir.resolve("copy"))) {
            assertArrayEquals(kept, copy.documents().get("kept").orElseThrow());
        }
    }
}
