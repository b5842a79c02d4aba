package dev.zenith.wal.image;

/** PostgreSQL's pglz decompressor (common/pg_lzcompress.c), used for wal_compression = pglz. */
public final class Pglz {
    private Pglz() {
    }

    /**
     * Decompresses {@code src[srcOff, srcOff+srcLen)} into {@code dst[dstOff, dstOff+rawLen)}.
     *
     * @return bytes written, or -1 if the input is corrupt, or (with {@code checkComplete}) does not
     *     fill exactly {@code rawLen} bytes using all the input
     */
    public static int decompress(byte[] src, int srcOff, int srcLen, byte[] dst, int dstOff, int rawLen,
                                 boolean checkComplete) {
        int sp = srcOff;
        final int srcEnd = srcOff + srcLen;
        int dp = dstOff;
        final int dstEnd = dstOff + rawLen;
        while (sp < srcEnd && dp < dstEnd) {
            int ctrl = src[sp++] & 0xFF;
            for (int bit = 0; bit < 8 && sp < srcEnd && dp < dstEnd; bit++) {
                if ((ctrl & 1) != 0) {
                    // A back-reference: 4 bits length-3, 12 bits offset, optional extra length byte.
                    if (sp + 1 >= srcEnd) {
                        return -1;
                    }
                    int b0 = src[sp] & 0xFF;
                    int len = (b0 & 0x0F) + 3;
                    int off = ((b0 & 0xF0) << 4) | (src[sp + 1] & 0xFF);
                    sp += 2;
                    if (len == 18) {
                        if (sp >= srcEnd) {
                            return -1;
                        }
                        len += src[sp++] & 0xFF;
                    }
                    if (off == 0 || off > dp - dstOff) {
                        return -1;
                    }
                    len = Math.min(len, dstEnd - dp);
                    if (off >= len) {
                        System.arraycopy(dst, dp - off, dst, dp, len);
                        dp += len;
                    } else {
                        // Overlapping copy repeats the last 'off' bytes, so copy forward byte by byte.
                        for (int i = 0; i < len; i++) {
                            dst[dp] = dst[dp - off];
                            dp++;
                        }
                    }
                } else {
                    dst[dp++] = src[sp++];
                }
                ctrl >>>= 1;
            }
        }
        if (checkComplete && (dp != dstEnd || sp != srcEnd)) {
            return -1;
        }
        return dp - dstOff;
    }
}
