package dev.zenith.storage.page;

import dev.zenith.wal.segment.WalGeometry;
import net.jpountz.lz4.LZ4Compressor;
import net.jpountz.lz4.LZ4Factory;
import net.jpountz.lz4.LZ4SafeDecompressor;

import java.nio.ByteBuffer;
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
    private static final byte[] ZERO_PAGE = new byte[WalGeometry.BLCKSZ];
    private static final LZ4SafeDecompressor DECOMPRESSOR = LZ4Factory.fastestInstance().safeDecompressor();

    private PageCodec() {
    }

    public static byte[] encode(byte[] page) {
        if (page.length != WalGeometry.BLCKSZ) {
            throw new IllegalArgumentException("a page has " + WalGeometry.BLCKSZ + " bytes, not " + page.length);
        }
        return encode(page, 0, scratch());
    }

    /** A buffer for {@link #encode(byte[], int, byte[])}, which one thread at a time reuses for every page it encodes. */
    public static byte[] scratch() {
        return new byte[1 + COMPRESSOR.maxCompressedLength(WalGeometry.BLCKSZ)];
    }

    /**
     * {@link #encode(byte[])} of the page at {@code offset} in {@code buffer}, compressing through {@code scratch}
     * (from {@link #scratch()}): only the stored value is allocated (an import encodes every page it streams).
     */
    public static byte[] encode(byte[] buffer, int offset, byte[] scratch) {
        return encode(buffer, offset, scratch, 0);
    }

    /**
     * As above, the value followed by {@code spare} zero bytes in the array returned (room for what the store appends
     * to a value, its checksum: the value is not copied again to get it).
     */
    public static byte[] encode(byte[] buffer, int offset, byte[] scratch, int spare) {
        if (Arrays.mismatch(buffer, offset, offset + WalGeometry.BLCKSZ, ZERO_PAGE, 0, WalGeometry.BLCKSZ) < 0) {
            byte[] out = new byte[1 + spare];
            out[0] = ZERO;
            return out;
        }
        int n = COMPRESSOR.compress(buffer, offset, WalGeometry.BLCKSZ, scratch, 1, scratch.length - 1);
        if (n >= WalGeometry.BLCKSZ) {
            byte[] out = new byte[1 + WalGeometry.BLCKSZ + spare];
            out[0] = RAW;
            System.arraycopy(buffer, offset, out, 1, WalGeometry.BLCKSZ);
            return out;
        }
        scratch[0] = LZ4;
        return Arrays.copyOf(scratch, 1 + n + spare);
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

    /**
     * Decodes into {@code target} from its position on, advancing it by a page: a direct buffer (a socket's) is
     * written by lz4's native code in place.
     */
    public static void decodeInto(byte[] value, ByteBuffer target) {
        int at = target.position();
        if (target.remaining() < WalGeometry.BLCKSZ) {
            throw new IllegalArgumentException("room for " + target.remaining() + " bytes, not a page");
        }
        switch (value[0]) {
            case ZERO -> target.put(ZERO_PAGE);
            case RAW -> target.put(value, 1, WalGeometry.BLCKSZ);
            case LZ4 -> {
                int n = DECOMPRESSOR.decompress(ByteBuffer.wrap(value), 1, value.length - 1, target, at, WalGeometry.BLCKSZ);
                if (n != WalGeometry.BLCKSZ) {
                    throw new IllegalStateException("stored page decompressed to " + n + " bytes");
                }
                target.position(at + WalGeometry.BLCKSZ);
            }
            default -> throw new IllegalStateException("unknown page encoding " + value[0]);
        }
    }
}
