package dev.zenith.wal.image;

import com.github.luben.zstd.Zstd;
import dev.zenith.wal.record.ImageCompression;
import dev.zenith.wal.segment.WalGeometry;
import net.jpountz.lz4.LZ4Factory;
import net.jpountz.lz4.LZ4SafeDecompressor;

/** RestoreBlockImage: full-page image bytes (maybe compressed, hole removed) back to an 8 KiB page. */
public final class PageImages {
    private static final LZ4SafeDecompressor LZ4 = LZ4Factory.fastestInstance().safeDecompressor();

    private PageImages() {
    }

    /** @throws IllegalStateException if the image does not decompress to exactly BLCKSZ - holeLength bytes */
    public static byte[] restore(byte[] src, int off, int len, ImageCompression compression, int holeOffset,
                                 int holeLength) {
        int rawLength = WalGeometry.BLCKSZ - holeLength;
        if (holeOffset + holeLength > WalGeometry.BLCKSZ || holeLength < 0) {
            throw new IllegalStateException("hole offset " + holeOffset + " length " + holeLength + " outside page");
        }
        byte[] raw;
        int rawOff;
        if (compression == ImageCompression.NONE) {
            if (len != rawLength) {
                throw new IllegalStateException("image length " + len + " but page minus hole is " + rawLength);
            }
            raw = src;
            rawOff = off;
        } else {
            raw = new byte[rawLength];
            rawOff = 0;
            int got = decompress(compression, src, off, len, raw, rawLength);
            if (got != rawLength) {
                throw new IllegalStateException(compression.methodName() + " image decompressed to " + got
                        + " bytes, expected " + rawLength);
            }
        }
        byte[] page = new byte[WalGeometry.BLCKSZ];
        System.arraycopy(raw, rawOff, page, 0, holeOffset);
        System.arraycopy(raw, rawOff + holeOffset, page, holeOffset + holeLength, rawLength - holeOffset);
        return page;
    }

    /** @return decompressed length, or -1 when the input is corrupt */
    public static int decompress(ImageCompression compression, byte[] src, int off, int len, byte[] dst,
                                 int rawLength) {
        switch (compression) {
            case PGLZ:
                return Pglz.decompress(src, off, len, dst, 0, rawLength, true);
            case LZ4:
                try {
                    return LZ4.decompress(src, off, len, dst, 0, rawLength);
                } catch (net.jpountz.lz4.LZ4Exception e) {
                    return -1;
                }
            case ZSTD:
                long n = Zstd.decompressByteArray(dst, 0, rawLength, src, off, len);
                return Zstd.isError(n) ? -1 : (int) n;
            default:
                throw new IllegalArgumentException("not compressed");
        }
    }
}
