package dev.zenith.storage.page;

import dev.zenith.wal.Lsn;
import dev.zenith.wal.segment.WalGeometry;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Header checks and the codec. The checksum itself is proven on real pages by
 * ImageRoundTripTest (every page of a fresh cluster must pass, a flipped byte must not).
 */
class PageLayoutTest {
    @Test
    void allZeroPagesAreValidButOtherUninitializedPagesAreNot() {
        byte[] zero = new byte[WalGeometry.BLCKSZ];
        assertNull(PageLayout.verify(zero, 7, true));
        zero[4000] = 1;
        assertNotNull(PageLayout.verify(zero, 7, true));
    }

    @Test
    void headerSanityAndChecksumAreChecked() {
        byte[] page = initializedPage();
        assertNull(PageLayout.verify(page, 3, false));
        setU16(page, 8, PageChecksum.compute(page, 3));
        assertNull(PageLayout.verify(page, 3, true));
        assertTrue(PageLayout.verify(page, 4, true).contains("checksum"), "the block number is mixed in");
        byte[] badSpecial = initializedPage();
        setU16(badSpecial, 16, 8188); // not MAXALIGNed
        assertNotNull(PageLayout.verify(badSpecial, 0, false));
        byte[] badFlags = initializedPage();
        setU16(badFlags, 10, 0x10);
        assertNotNull(PageLayout.verify(badFlags, 0, false));
    }

    @Test
    void pageLsnIsReadAsTwoNativeHalves() {
        byte[] page = initializedPage();
        page[0] = 0x01; // xlogid = 1
        page[4] = 0x28; // xrecoff = 0x28
        assertEquals(Lsn.parse("1/28"), PageLayout.pageLsn(page));
    }

    @Test
    void codecRoundTripsAndCompresses() {
        byte[] page = initializedPage();
        for (int i = 4000; i < 8192; i++) {
            page[i] = (byte) (i % 13);
        }
        byte[] encoded = PageCodec.encode(page);
        assertTrue(encoded.length < 1000, "compressible page encoded in " + encoded.length);
        assertArrayEquals(page, PageCodec.decode(encoded));
        assertEquals(1, PageCodec.encode(new byte[WalGeometry.BLCKSZ]).length);
        byte[] random = new byte[WalGeometry.BLCKSZ];
        new java.util.Random(5).nextBytes(random);
        assertArrayEquals(random, PageCodec.decode(PageCodec.encode(random)));
    }

    @Test
    void everyEncodingDecodesIntoADirectBufferAtItsPositionAsIntoAnArray() {
        byte[] compressible = new byte[WalGeometry.BLCKSZ];
        for (int i = 4000; i < 8192; i++) {
            compressible[i] = (byte) (i % 13);
        }
        byte[] random = new byte[WalGeometry.BLCKSZ];
        new java.util.Random(6).nextBytes(random);
        for (byte[] page : new byte[][] {compressible, random, new byte[WalGeometry.BLCKSZ]}) {
            java.nio.ByteBuffer target = java.nio.ByteBuffer.allocateDirect(3 * WalGeometry.BLCKSZ);
            byte[] dirt = new byte[target.capacity()];
            java.util.Arrays.fill(dirt, (byte) 0x77); // zeros must be written, not assumed
            target.put(dirt).position(100);
            StoredPage.encoded(PageCodec.encode(page)).decodeInto(target);
            assertEquals(100 + WalGeometry.BLCKSZ, target.position());
            byte[] got = new byte[WalGeometry.BLCKSZ];
            target.get(100, got);
            assertArrayEquals(page, got);
            assertEquals((byte) 0x77, target.get(99));
            assertEquals((byte) 0x77, target.get(100 + WalGeometry.BLCKSZ));
            assertArrayEquals(page, StoredPage.encoded(PageCodec.encode(page)).page());
        }
        java.nio.ByteBuffer small = java.nio.ByteBuffer.allocateDirect(WalGeometry.BLCKSZ - 1);
        assertThrows(IllegalArgumentException.class, () -> PageCodec.decodeInto(PageCodec.encode(random), small));
    }

    @Test
    void sharedZerosAreWrittenWholeAndNeverHandedOutToBeChanged() {
        java.nio.ByteBuffer target = java.nio.ByteBuffer.allocateDirect(2 * WalGeometry.BLCKSZ);
        byte[] dirt = new byte[target.capacity()];
        java.util.Arrays.fill(dirt, (byte) 0x77);
        target.put(dirt).position(10);
        StoredPage.zeros().decodeInto(target);
        assertEquals(10 + WalGeometry.BLCKSZ, target.position());
        byte[] got = new byte[WalGeometry.BLCKSZ];
        target.get(10, got);
        assertArrayEquals(new byte[WalGeometry.BLCKSZ], got);
        assertEquals((byte) 0x77, target.get(10 + WalGeometry.BLCKSZ));
        // a caller may change the array it got: the next one is zeros again
        byte[] mine = StoredPage.zeros().page();
        java.util.Arrays.fill(mine, (byte) 1);
        assertArrayEquals(new byte[WalGeometry.BLCKSZ], StoredPage.zeros().page());
        target.position(0);
        StoredPage.zeros().decodeInto(target);
        target.get(0, got);
        assertArrayEquals(new byte[WalGeometry.BLCKSZ], got);
    }

    private static byte[] initializedPage() {
        byte[] p = new byte[WalGeometry.BLCKSZ];
        setU16(p, 12, 28);   // pd_lower
        setU16(p, 14, 8000); // pd_upper
        setU16(p, 16, 8192); // pd_special
        setU16(p, 18, 8192 | 4);
        p[8100] = 42;
        return p;
    }

    private static void setU16(byte[] b, int off, int v) {
        b[off] = (byte) v;
        b[off + 1] = (byte) (v >>> 8);
    }
}
