package dev.zenith.server.basebackup;

import java.io.InputStream;
import java.util.Arrays;

/** {@code length} zero bytes: a fork of all-zero blocks, sent without reading the store. */
final class ZeroStream extends InputStream {
    private long left;

    ZeroStream(long length) {
        this.left = length;
    }

    @Override
    public int read(byte[] b, int off, int len) {
        if (len == 0) {
            return 0;
        }
        if (left == 0) {
            return -1;
        }
        int n = (int) Math.min(len, left);
        Arrays.fill(b, off, off + n, (byte) 0);
        left -= n;
        return n;
    }

    @Override
    public int read() {
        if (left == 0) {
            return -1;
        }
        left--;
        return 0;
    }
}
