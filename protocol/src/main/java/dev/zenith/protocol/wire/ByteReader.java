package dev.zenith.protocol.wire;

import java.nio.charset.StandardCharsets;

/**
 * Reads big-endian fields from one complete message body. Every read is bounds-checked and fails
 * with {@link ProtocolException.Kind#MALFORMED} naming the message, never with an index exception.
 */
public final class ByteReader {
    private final byte[] buf;
    private final int end;
    private final String what;
    private int pos;

    public ByteReader(byte[] buf, String what) {
        this(buf, 0, buf.length, what);
    }

    public ByteReader(byte[] buf, int offset, int length, String what) {
        this.buf = buf;
        this.pos = offset;
        this.end = offset + length;
        this.what = what;
    }

    public int remaining() {
        return end - pos;
    }

    public boolean hasRemaining() {
        return pos < end;
    }

    private void need(int n, String field) {
        if (n < 0 || end - pos < n) {
            throw malformed("truncated " + field + " (need " + n + " bytes, have " + (end - pos) + ")");
        }
    }

    public ProtocolException malformed(String detail) {
        return new ProtocolException(ProtocolException.Kind.MALFORMED, "malformed " + what + ": " + detail);
    }

    public byte int8(String field) {
        need(1, field);
        return buf[pos++];
    }

    public short int16(String field) {
        need(2, field);
        short v = (short) (((buf[pos] & 0xFF) << 8) | (buf[pos + 1] & 0xFF));
        pos += 2;
        return v;
    }

    public int int32(String field) {
        need(4, field);
        int v = ((buf[pos] & 0xFF) << 24) | ((buf[pos + 1] & 0xFF) << 16) | ((buf[pos + 2] & 0xFF) << 8)
                | (buf[pos + 3] & 0xFF);
        pos += 4;
        return v;
    }

    public long int64(String field) {
        long hi = int32(field) & 0xFFFFFFFFL;
        long lo = int32(field) & 0xFFFFFFFFL;
        return (hi << 32) | lo;
    }

    public byte[] bytes(int n, String field) {
        need(n, field);
        byte[] out = new byte[n];
        System.arraycopy(buf, pos, out, 0, n);
        pos += n;
        return out;
    }

    public byte[] rest() {
        return bytes(remaining(), "rest");
    }

    /** A NUL-terminated UTF-8 string. */
    public String cstring(String field) {
        for (int i = pos; i < end; i++) {
            if (buf[i] == 0) {
                String s = new String(buf, pos, i - pos, StandardCharsets.UTF_8);
                pos = i + 1;
                return s;
            }
        }
        throw malformed(field + " is not NUL-terminated");
    }

    /** Fails unless the whole body was consumed. */
    public void end() {
        if (pos != end) {
            throw malformed((end - pos) + " unexpected trailing bytes");
        }
    }
}
