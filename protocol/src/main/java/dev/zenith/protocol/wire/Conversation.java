package dev.zenith.protocol.wire;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayDeque;

/**
 * The shape shared by every protocol state machine here: {@link #feed} the bytes the peer sent
 * (any chunking), write {@link #drainOutbound()} to the peer, and handle each {@link #poll()}
 * event until it returns null. Subclasses own their decoder and state.
 */
public abstract class Conversation<E> {
    /** Events not yet polled, oldest first. */
    protected final ArrayDeque<E> events = new ArrayDeque<>();
    /** Bytes not yet drained. */
    protected final ByteWriter outbound = new ByteWriter();

    public final void feed(byte[] bytes) {
        feed(bytes, 0, bytes.length);
    }

    public final void feed(byte[] bytes, int off, int len) {
        feed(ByteBuffer.wrap(bytes, off, len));
    }

    /** Consumes all of {@code bytes}; dropped when the conversation no longer {@link #accepts()} input. */
    public final void feed(ByteBuffer bytes) {
        if (!accepts()) {
            bytes.position(bytes.limit());
            return;
        }
        input(bytes);
        process();
    }

    /**
     * Reads once from {@code source} (up to {@code max} bytes) and handles it as {@link #feed} does, the bytes going
     * straight into the decoder's buffer where the conversation supports it ({@link #receive}). Returns what the
     * source returned (-1 at its end).
     */
    public final int feedFrom(MessageFramer.Source source, int max) throws IOException {
        int n = accepts() ? receive(source, max) : source.read(new byte[max], 0, max);
        if (n > 0 && accepts()) {
            process();
        }
        return n;
    }

    /** Reads from {@code source} into the decoder; by default through a buffer of its own, then {@link #input}. */
    protected int receive(MessageFramer.Source source, int max) throws IOException {
        byte[] b = new byte[max];
        int n = source.read(b, 0, max);
        if (n > 0) {
            input(ByteBuffer.wrap(b, 0, n));
        }
        return n;
    }

    /** The next event, or null. */
    public final E poll() {
        return events.poll();
    }

    /** Bytes to write to the peer (possibly empty). */
    public final byte[] drainOutbound() {
        byte[] b = outbound.toByteArray();
        outbound.reset();
        return b;
    }

    /** Hands received bytes to the decoder. */
    protected abstract void input(ByteBuffer bytes);

    /** Decodes and handles whatever whole messages are buffered. */
    protected abstract void process();

    /** False once input is pointless (the conversation failed). */
    protected boolean accepts() {
        return true;
    }
}
