package dev.zenith.protocol.wire;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Builds messages: {@link #begin(char)} / {@link #beginUntyped()} reserve the length word,
 * {@link #finish()} patches it. Several messages may be written back to back. Bytes written
 * {@link #later} are made only where the messages go ({@link #copyTo}): a page decoded straight into a
 * socket's buffer instead of into an array of its own, then here, then there.
 */
public final class ByteWriter {
    private byte[] buf = new byte[64];
    private int len;
    private int lengthAt = -1;
    /** Bytes promised by {@link #later}, in order, each standing at a place in {@code buf}; and how many in all. */
    private final List<Later> later = new ArrayList<>(2);
    private int laterBytes;
    private int laterBytesAtBegin;

    private record Later(int at, int length, Filler filler) {
    }

    /** Writes its bytes from a buffer's position on, advancing it by the length it was promised with. */
    @FunctionalInterface
    public interface Filler {
        void fill(ByteBuffer target);
    }

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
        laterBytesAtBegin = laterBytes;
        return int32(0);
    }

    public ByteWriter finish() {
        int n = len - lengthAt + laterBytes - laterBytesAtBegin;
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

    /**
     * {@code length} bytes here that {@code filler} writes only when they are copied out ({@link #copyTo}, {@link
     * #toByteArray}): what it reads must stay as it is until then.
     */
    public ByteWriter later(int length, Filler filler) {
        if (length < 0) {
            throw new IllegalArgumentException("negative length " + length);
        }
        later.add(new Later(len, length, filler));
        laterBytes += length;
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
        later.clear();
        laterBytes = 0;
    }

    /** Bytes written so far, those promised {@link #later} included. */
    public int size() {
        return len + laterBytes;
    }

    /**
     * What is written so far, handed over without a copy (the array pieces in order, {@link #later} bytes between
     * them through {@link Sink#later}): {@code sink} must not keep the array.
     */
    public void copyTo(Sink sink) {
        if (lengthAt >= 0) {
            throw new IllegalStateException("message not finished");
        }
        int from = 0;
        for (Later l : later) {
            if (l.at > from) {
                sink.write(buf, from, l.at - from);
            }
            sink.later(l.length, l.filler);
            from = l.at;
        }
        if (len > from || later.isEmpty()) {
            sink.write(buf, from, len - from);
        }
    }

    /** Takes bytes from an array it does not keep. */
    @FunctionalInterface
    public interface Sink {
        void write(byte[] b, int off, int n);

        /** {@code length} bytes {@code filler} writes: through an array of their own, unless the sink has room for them. */
        default void later(int length, Filler filler) {
            ByteBuffer b = ByteBuffer.allocate(length);
            fillExactly(b, length, filler);
            write(b.array(), 0, length);
        }
    }

    public byte[] toByteArray() {
        if (lengthAt >= 0) {
            throw new IllegalStateException("message not finished");
        }
        if (later.isEmpty()) {
            return Arrays.copyOf(buf, len);
        }
        ByteBuffer out = ByteBuffer.allocate(size());
        copyTo(new Sink() {
            @Override
            public void write(byte[] b, int off, int n) {
                out.put(b, off, n);
            }

            @Override
            public void later(int length, Filler filler) {
                fillExactly(out, length, filler);
            }
        });
        return out.array();
    }

    /** Has {@code filler} write at {@code target}'s position and checks it wrote {@code length} bytes, no more. */
    public static void fillExactly(ByteBuffer target, int length, Filler filler) {
        int start = target.position();
        int limit = target.limit();
        target.limit(start + length);
        filler.fill(target);
        target.limit(limit);
        if (target.position() != start + length) {
            throw new IllegalStateException("promised " + length + " bytes, wrote " + (target.position() - start));
        }
    }
}
