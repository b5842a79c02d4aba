package dev.zenith.storage.page;
import dev.zenith.wal.segment.WalGeometry;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;

/**
 * PostgreSQL's data checksum (storage/checksum_impl.h): 32 parallel FNV-1a-style sums over the
 * page read as 32-bit little-endian words with pd_checksum taken as zero, two extra rounds of
 * zeros, xor-folded, the block number mixed in, reduced to 1..65535.
 */
public final class PageChecksum {
    private static final int N_SUMS = 32;
    private static final int FNV_PRIME = 16777619;
    private static final int[] BASE_OFFSETS = {
            0x5B1F36E9, 0xB8525960, 0x02AB50AA, 0x1DE66D2A, 0x79FF467A, 0x9BB9F8A3, 0x217E7CD2, 0x83E13D2C,
            0xF8D4474F, 0xE39EB970, 0x42C6AE16, 0x993216FA, 0x7B093B5D, 0x98DAFF3C, 0xF718902A, 0x0B1C9CDB,
            0xE58F764B, 0x187636BC, 0x5D7B3BB1, 0xE73DE7DE, 0x92BEC979, 0xCCA6C0B2, 0x304A0979, 0x85AA43D4,
            0x783125BB, 0x6CA8EAA2, 0xE407EAC6, 0x4B5CFC3E, 0x9FBF8C76, 0x15CA20BE, 0xF2CA9FD3, 0x959BD756};

    private PageChecksum() {
    }

    /** The checksum PostgreSQL would store for this page at this block number (of the whole fork). */
    public static int compute(byte[] page, long blockNumber) {
        if (page.length != WalGeometry.BLCKSZ) {
            throw new IllegalArgumentException("a page has " + WalGeometry.BLCKSZ + " bytes");
        }
        return compute(page, 0, blockNumber);
    }

    /** {@link #compute(byte[], long)} of the page at {@code offset} in {@code buffer}. */
    public static int compute(byte[] buffer, int offset, long blockNumber) {
        int[] sums = BASE_OFFSETS.clone();
        for (int j = 0; j < N_SUMS; j++) {
            int word = (int) LE_INT.get(buffer, offset + j * 4);
            sums[j] = mix(sums[j], j == CHECKSUM_WORD ? word & 0xFFFF0000 : word);
        }
        int words = WalGeometry.BLCKSZ / 4;
        for (int row = N_SUMS; row < words; row += N_SUMS) {
            for (int j = 0; j < N_SUMS; j++) {
                sums[j] = mix(sums[j], (int) LE_INT.get(buffer, offset + (row + j) * 4));
            }
        }
        for (int round = 0; round < 2; round++) {
            for (int j = 0; j < N_SUMS; j++) {
                sums[j] = mix(sums[j], 0);
            }
        }
        int result = 0;
        for (int s : sums) {
            result ^= s;
        }
        result ^= (int) blockNumber;
        return (int) (Integer.toUnsignedLong(result) % 65535) + 1;
    }

    /** Word 2 holds pd_checksum (low half) and pd_flags (high half); the checksum counts as zero. */
    private static final int CHECKSUM_WORD = PageLayout.PD_CHECKSUM_OFFSET / 4;
    private static final VarHandle LE_INT = MethodHandles.byteArrayViewVarHandle(int[].class, ByteOrder.LITTLE_ENDIAN);

    private static int mix(int checksum, int value) {
        int tmp = checksum ^ value;
        return tmp * FNV_PRIME ^ (tmp >>> 17);
    }
}
