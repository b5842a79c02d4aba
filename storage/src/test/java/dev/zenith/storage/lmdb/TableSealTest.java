package dev.zenith.storage.lmdb;

import dev.zenith.storage.page.PageCodec;
import dev.zenith.wal.segment.WalGeometry;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * A value sealed where it was encoded ({@link Table#sealInPlace}, an import's encoder threads) is the bytes
 * {@link Table#put} stores for it, for each kind of page value (zero, compressed, raw), and reads back checked.
 */
class TableSealTest {
    @Test
    void aValueSealedInPlaceIsWhatPutStores() {
        byte[] key = {1, 2, 3, 4, 5, 6, 7, 8};
        byte[] compressible = new byte[WalGeometry.BLCKSZ];
        compressible[100] = 7;
        byte[] random = new byte[WalGeometry.BLCKSZ];
        new Random(21).nextBytes(random);
        for (byte[] page : new byte[][] {new byte[WalGeometry.BLCKSZ], compressible, random}) {
            byte[] value = PageCodec.encode(page, 0, PageCodec.scratch());
            byte[] sealed = Table.sealInPlace(key, PageCodec.encode(page, 0, PageCodec.scratch(), Table.CHECKSUM_BYTES));
            assertArrayEquals(Table.seal(key, value), sealed);
            Table table = new Table("pages", null, java.nio.file.Path.of("store"), k -> "key", null);
            assertArrayEquals(value, table.open(key, sealed));
            sealed[0] ^= 1;
            assertThrows(dev.zenith.storage.failure.StoreCorruptException.class, () -> table.open(key, sealed));
        }
        assertEquals(1, PageCodec.encode(new byte[WalGeometry.BLCKSZ], 0, PageCodec.scratch()).length);
    }
}
