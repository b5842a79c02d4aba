package dev.zenith.protocol.wire;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * Builds messages: {@link #begin(char)} / {@link #beginUntyped()} reserve the length word,
 * {@link #finish()} patches it. Several messages may be written back to back.
 */
public final class ByteWriter {
    private byte[] buf = new byte[64];
    private int len;
    private int lengthAt = -1;

    private void ensure(int n) {
        if (len + n > buf.length) {
            buf = Arrays.copyOf(buf, Math.max(buf.length * 2, len + n));
        }
    }

    public ByteWriter begin(char type) {
        int8(type);
        return beginUntyped();
    }

    public ByteWriter beginUntyped() {
        if (lengthAt >= 0) {
            throw new IllegalStateException("previous message not finished");
        }
        lengthAt = len;
        return int32(0);
    }

    public ByteWriter finish() {
        int n = len - lengthAt;
        buf[lengthAt] = (byte) (n >>> 24);
        buf[lengthAt + 1] = (byte) (n >>> 16);
        buf[lengthAt + 2] = (byte) (n >>> 8);
        buf[lengthAt + 3] = (byte) n;
        lengthAt = -1;
        return this;
    }

    public ByteWriter int8(int v) {
        ensure(1);
        buf[len++] = (byte) v;
        return this;
    }

    public ByteWriter int16(int v) {
        ensure(2);
        buf[len++] = (byte) (v >>> 8);
        buf[len++] = (byte) v;
        return this;
    }

    public ByteWriter int32(int v) {
        ensure(4);
        buf[len++] = (byte) (v >>> 24);
        buf[len++] = (byte) (v >>> 16);
        buf[len++] = (byte) (v >>> 8);
        buf[len++] = (byte) v;
        return this;
    }

    public ByteWriter int64(long v) {
        int32((int) (v >>> 32));
        return int32((int) v);
    }

    public ByteWriter bytes(byte[] b) {
        return bytes(b, 0, b.length);
    }

    public ByteWriter bytes(byte[] b, int off, int n) {
        ensure(n);
        System.arraycopy(b, off, buf, len, n);
        len += n;
        return this;
    }

    public ByteWriter cstring(String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        for (byte x : b) {
            if (x == 0) {
                throw new IllegalArgumentException("string contains NUL: " + s);
            }
        }
        bytes(b);
        return int8(0);
    }

    /** Forgets everything written. */
    public void reset() {
        len = 0;
        lengthAt = -1;
    }

    public int size() {
        return len;
    }

    /** What is written so far, handed over without a copy: {@code sink} must not keep the array. */
    public void copyTo(Sink sink) {
        if (lengthAt >= 0) {
            throw new IllegalStateException("message not finished");
        }
        sink.write(buf, 0, len);
    }

    /** Takes bytes from an array it does not keep. */
    @FunctionalInterface
    public interface Sink {
        void write(byte[] b, int off, int n);
    }

    public byte[] toByteArray() {
        if (lengthAt >= 0) {
            throw new IllegalStateException("message not finished");
        }
        return Arrays.copyOf(buf, len);
    }
}
