package dev.zenith.protocol.wire;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Arrays;

/**
 * Cuts a byte stream into whole messages. Accepts arbitrary chunks (one byte at a time works). A long typed
 * message's body (up to 256 KiB) is received straight into the array its frame then carries (a base backup's or
 * WAL stream's CopyData is not copied out of the framer's buffer).
 * The declared length is checked against {@code [minimum, maxMessageLength]} as soon as its four
 * bytes have arrived, before any buffer is sized for the body, so a hostile length costs nothing (beyond the
 * 256 KiB a long body's own array may take before its bytes arrive). A caller that is done with a long body may
 * give it back ({@link #recycle}): the next long body of its length is received into it (a base backup's CopyData
 * messages, all one length, then take no new array each).
 *
 * <p>Two framings: typed ({@code type:int8, length:int32 incl. itself, body}) and untyped, used by
 * the startup phase ({@code length:int32 incl. itself, body}).
 */
public final class MessageFramer {
    /** Default bound: PostgreSQL itself caps most client messages at 1 GiB; we are stricter by default. */
    public static final int DEFAULT_MAX_MESSAGE_LENGTH = 64 * 1024 * 1024;

    /** Where {@link #feedFrom} reads bytes ({@code InputStream::read} is one): their count, or -1 at the end. */
    @FunctionalInterface
    public interface Source {
        int read(byte[] b, int off, int len) throws IOException;
    }

    /** One framed message: {@code type} is 0 for untyped (startup-phase) packets. */
    public record Frame(char type, byte[] body) {
    }

    /**
     * A typed message body at least this long, and at most {@link #OWN_BODY_MAX}, is received straight into its own
     * array (not into buf, then copied). The bound keeps what a declared length alone makes us allocate small.
     */
    static final int OWN_BODY_BYTES = 8192;
    static final int OWN_BODY_MAX = 256 * 1024;

    /** How many long bodies given back are kept for reuse. */
    static final int SPARE_BODIES = 4;

    private int maxMessageLength;
    private byte[] buf = new byte[256];
    private int start;
    private int end;
    /** The body of a long typed message being received, its type, and how much of it has arrived; null when none. */
    private byte[] body;
    private char bodyType;
    private int bodyFilled;
    /** Long bodies given back ({@link #recycle}), the first {@code spareCount} of them. */
    private final byte[][] spares = new byte[SPARE_BODIES][];
    private int spareCount;

    public MessageFramer(int maxMessageLength) {
        if (maxMessageLength < 8) {
            throw new IllegalArgumentException("maxMessageLength too small: " + maxMessageLength);
        }
        this.maxMessageLength = maxMessageLength;
    }

    public int maxMessageLength() {
        return maxMessageLength;
    }

    /**
     * Lowers the bound for the messages still to come (a protocol whose messages are all small, once it
     * is known which one the connection speaks); it is never raised.
     */
    public void limitMessageLength(int max) {
        if (max < 8) {
            throw new IllegalArgumentException("maxMessageLength too small: " + max);
        }
        maxMessageLength = Math.min(maxMessageLength, max);
    }

    public void feed(byte[] b) {
        feed(b, 0, b.length);
    }

    public void feed(byte[] b, int off, int n) {
        int k = toBody(n);
        if (k > 0) {
            System.arraycopy(b, off, body, bodyFilled, k);
            bodyFilled += k;
        }
        ensure(n - k);
        System.arraycopy(b, off + k, buf, end, n - k);
        end += n - k;
    }

    public void feed(ByteBuffer b) {
        int k = toBody(b.remaining());
        if (k > 0) {
            b.get(body, bodyFilled, k);
            bodyFilled += k;
        }
        int n = b.remaining();
        ensure(n);
        b.get(buf, end, n);
        end += n;
    }

    /** Of {@code n} bytes arriving, how many go to the body being received (0 when none is). */
    private int toBody(int n) {
        return body == null ? 0 : Math.min(n, body.length - bodyFilled);
    }

    /**
     * Reads once from {@code source}, up to {@code max} bytes, straight into the buffer: a {@link #feed} of them
     * without copying them there from another buffer. Returns what the source returned.
     */
    public int feedFrom(Source source, int max) throws IOException {
        if (body != null && bodyFilled < body.length) {
            int n = source.read(body, bodyFilled, Math.min(max, body.length - bodyFilled));
            bodyFilled += Math.max(n, 0);
            return n;
        }
        ensure(max);
        int n = source.read(buf, end, max);
        if (n > 0) {
            end += n;
        }
        return n;
    }

    /**
     * Gives back {@code body}, a long body (of {@link #OWN_BODY_BYTES} to {@link #OWN_BODY_MAX} bytes) a frame of this
     * framer carried, once nothing refers to it any more: a later long body of its length is received into it. Other
     * arrays, or more than {@link #SPARE_BODIES} of them, are left to the garbage collector.
     */
    public void recycle(byte[] body) {
        if (body.length < OWN_BODY_BYTES || body.length > OWN_BODY_MAX || spareCount == SPARE_BODIES) {
            return;
        }
        for (int i = 0; i < spareCount; i++) {
            if (spares[i] == body) {
                return; // given back twice: it must not be handed out twice
            }
        }
        spares[spareCount++] = body;
    }

    /** An array for a long body of {@code length} bytes: one given back of that length, else a new one. */
    private byte[] longBody(int length) {
        for (int i = spareCount - 1; i >= 0; i--) {
            if (spares[i].length == length) {
                byte[] b = spares[i];
                spares[i] = spares[--spareCount];
                spares[spareCount] = null;
                return b;
            }
        }
        return new byte[length];
    }

    /** Bytes received but not yet returned as a frame. */
    public int buffered() {
        return end - start + (body == null ? 0 : 5 + bodyFilled);
    }

    private void ensure(int n) {
        if (end + n <= buf.length) {
            return;
        }
        int live = end - start;
        if (live + n <= buf.length && start > 0) {
            System.arraycopy(buf, start, buf, 0, live);
        } else {
            byte[] nb = new byte[Math.max(buf.length * 2, live + n)];
            System.arraycopy(buf, start, nb, 0, live);
            buf = nb;
        }
        start = 0;
        end = live;
    }

    private int int32At(int p) {
        return ((buf[p] & 0xFF) << 24) | ((buf[p + 1] & 0xFF) << 16) | ((buf[p + 2] & 0xFF) << 8) | (buf[p + 3] & 0xFF);
    }

    private void checkLength(int length, int minimum, String what) {
        checkLength(length, minimum, maxMessageLength, what);
    }

    private void checkLength(int length, int minimum, int maxMessageLength, String what) {
        if (length < minimum || length > maxMessageLength) {
            throw new ProtocolException(ProtocolException.Kind.BAD_LENGTH, "invalid length " + Integer.toUnsignedString(length)
                    + " for " + what + " (allowed " + minimum + ".." + maxMessageLength + ")");
        }
    }

    /** The next typed message, or null when it has not fully arrived. */
    public Frame nextTyped() {
        if (body != null) {
            if (bodyFilled < body.length) {
                return null;
            }
            Frame f = new Frame(bodyType, body);
            body = null;
            return f;
        }
        if (end - start < 5) {
            return null;
        }
        char type = (char) (buf[start] & 0xFF);
        int length = int32At(start + 1);
        if (length < 4 || length > maxMessageLength) { // the description only then: this runs for every message
            checkLength(length, 4, "message type '" + printable(type) + "'");
        }
        if (end - start < 1 + length) {
            if (isLong(length - 4)) { // the rest goes straight into its own array
                body = longBody(length - 4);
                bodyType = type;
                bodyFilled = end - start - 5;
                System.arraycopy(buf, start + 5, body, 0, bodyFilled);
                start = end = 0;
            }
            return null;
        }
        byte[] body = isLong(length - 4) ? longBody(length - 4) : new byte[length - 4];
        System.arraycopy(buf, start + 5, body, 0, body.length);
        start += 1 + length;
        return new Frame(type, body);
    }

    private static boolean isLong(int bodyLength) {
        return bodyLength >= OWN_BODY_BYTES && bodyLength <= OWN_BODY_MAX;
    }

    /** The next untyped (startup-phase) packet, or null when it has not fully arrived. */
    public Frame nextUntyped() {
        return nextUntyped(maxMessageLength);
    }

    /** As {@link #nextUntyped()}, with a tighter bound for this packet. */
    public Frame nextUntyped(int maxLength) {
        if (body != null) {
            throw new IllegalStateException("a typed message is being received");
        }
        if (end - start < 4) {
            return null;
        }
        int length = int32At(start);
        checkLength(length, 8, Math.min(maxLength, maxMessageLength), "startup packet");
        if (end - start < length) {
            return null;
        }
        byte[] body = Arrays.copyOfRange(buf, start + 4, start + length);
        start += length;
        return new Frame((char) 0, body);
    }

    /** Takes one raw byte (the answer to SSLRequest / GSSENCRequest), or -1 when none is buffered. */
    public int nextByte() {
        if (body != null) {
            throw new IllegalStateException("a typed message is being received");
        }
        if (end == start) {
            return -1;
        }
        return buf[start++] & 0xFF;
    }

    static String printable(char c) {
        return c >= 0x20 && c < 0x7F ? String.valueOf(c) : String.format("\\x%02x", (int) c);
    }
}
