package dev.zenith.storage.page;

import dev.zenith.storage.Store;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.wal.ForkNumber;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.RelTag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

/**
 * The ordered scan that builds data directories and base backups ({@link PageStore#readBlocks}) answers
 * exactly what a lookup per block does, whatever the number of versions of a block (none, one, a few, many,
 * some above the LSN asked): it steps over a block's first versions and seeks past the rest. So does
 * {@link PageStore#readListed} for scattered blocks.
 */
class OrderedScanTest {
    private static final int BLOCKS = 40;

    @TempDir
    Path tmp;

    @Test
    void scanEqualsLookupPerBlock() throws Exception {
        try (Store store = Store.open(tmp.resolve("store"))) {
            TimelineId tl = store.timelines().create(null, Lsn.INVALID, 1).id();
            RelTag rel = RelTag.of(1663, 5, 16384, ForkNumber.MAIN);
            List<PageWrite> writes = new ArrayList<>();
            for (int b = 0; b < BLOCKS; b++) {
                int versions = b % 9 == 8 ? 0 : (b * 7) % 13; // 0 to 12 versions, at LSNs 0x100 apart
                for (int v = 1; v <= versions; v++) {
                    writes.add(new PageWrite(tl, rel, b, Lsn.of(0x100L * v + b), page(b, v)));
                }
            }
            store.pages().putAll(writes);
            for (long at : new long[] {0x50, 0x100 + 5, 0x300, 0x300 + 20, 0x700 + 39, 0x2000}) {
                Lsn lsn = Lsn.of(at);
                for (int first : new int[] {0, 7}) {
                    byte[] scanned = new byte[(BLOCKS - first) * 8192];
                    store.pages().readBlocks(tl, rel, lsn, first, BLOCKS - first, false, true, scanned, 0);
                    for (int b = first; b < BLOCKS; b++) {
                        byte[] expected = store.pages().get(tl, rel, b, lsn).map(PageVersion::page).orElse(new byte[8192]);
                        assertArrayEquals(expected, Arrays.copyOfRange(scanned, (b - first) * 8192, (b - first + 1) * 8192),
                                "block " + b + " at " + lsn);
                    }
                }
                // scattered blocks, one seek each (a ready directory's update), block 8 and 17 without versions
                long[] listed = {1, 2, 5, 8, 12, 17, 18, 30, 39};
                byte[] read = new byte[listed.length * 8192];
                store.pages().readListed(tl, rel, lsn, listed, listed.length, false, true, read, 0);
                for (int i = 0; i < listed.length; i++) {
                    byte[] expected = store.pages().get(tl, rel, (int) listed[i], lsn).map(PageVersion::page)
                            .orElse(new byte[8192]);
                    assertArrayEquals(expected, Arrays.copyOfRange(read, i * 8192, (i + 1) * 8192),
                            "listed block " + listed[i] + " at " + lsn);
                }
            }
        }
    }

    /** A valid page marked with its block and version. */
    private static byte[] page(int block, int version) {
        byte[] p = new byte[8192];
        ByteBuffer b = ByteBuffer.wrap(p).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(0, 0x100L * version + block);
        b.putShort(12, (short) 24);
        b.putShort(14, (short) 8192);
        b.putShort(16, (short) 8192);
        b.putShort(18, (short) (8192 | 4));
        b.putInt(100, block);
        b.putInt(104, version);
        return p;
    }
}
