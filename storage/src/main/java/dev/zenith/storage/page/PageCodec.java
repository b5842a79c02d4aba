package dev.zenith.storage.page;

import dev.zenith.wal.segment.WalGeometry;
import net.jpountz.lz4.LZ4Compressor;
import net.jpountz.lz4.LZ4Factory;
import net.jpountz.lz4.LZ4SafeDecompressor;

import java.util.Arrays;

/**
 * How a page is stored as an LMDB value: one tag byte, then the payload. All-zero pages cost one
 * byte; other pages are lz4-compressed unless that does not make them smaller. Small values also
 * keep LMDB off its overflow pages (values over ~2 KB take whole pages of their own).
 */
public final class PageCodec {
    private static final byte RAW = 0;
    private static final byte LZ4 = 1;
    private static final byte ZERO = 2;
    private static final LZ4Compressor COMPRESSOR = LZ4Factory.fastestInstance().fastCompressor();
    // the safe decompressor has a JNI implementation; the "fast" one is pure Java in lz4-java 1.14
    private static final LZ4SafeDecompressor DECOMPRESSOR = LZ4Factory.fastestInstance().safeDecompressor();

    private PageCodec() {
    }

    public static byte[] encode(byte[] page) {
        if (page.length != WalGeometry.BLCKSZ) {
            throw new IllegalArgumentException("a page has " + WalGeometry.BLCKSZ + " bytes, not " + page.length);
        }
        if (PageLayout.isAllZero(page)) {
            return new byte[] {ZERO};
        }
        byte[] out = new byte[1 + COMPRESSOR.maxCompressedLength(page.length)];
        int n = COMPRESSOR.compress(page, 0, page.length, out, 1, out.length - 1);
        if (n >= page.length) {
            out = new byte[1 + page.length];
            out[0] = RAW;
            System.arraycopy(page, 0, out, 1, page.length);
            return out;
        }
        out[0] = LZ4;
        return Arrays.copyOf(out, 1 + n);
    }

    public static byte[] decode(byte[] value) {
        byte[] page = new byte[WalGeometry.BLCKSZ];
        decodeInto(value, page, 0);
        return page;
    }

    /** Decodes into {@code target} at {@code offset} (materialize writes straight into its file buffer). */
    public static void decodeInto(byte[] value, byte[] target, int offset) {
        switch (value[0]) {
            case ZERO -> Arrays.fill(target, offset, offset + WalGeometry.BLCKSZ, (byte) 0);
            case RAW -> System.arraycopy(value, 1, target, offset, WalGeometry.BLCKSZ);
            case LZ4 -> {
                int n = DECOMPRESSOR.decompress(value, 1, value.length - 1, target, offset, WalGeometry.BLCKSZ);
                if (n != WalGeometry.BLCKSZ) {
                    throw new IllegalStateException("stored page decompressed to " + n + " bytes");
                }
            }
            default -> throw new IllegalStateException("unknown page encoding " + value[0]);
        }
    }
}
