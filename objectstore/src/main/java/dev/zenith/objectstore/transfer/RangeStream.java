package dev.zenith.objectstore.transfer;

import static dev.zenith.objectstore.Futures.join;

import dev.zenith.objectstore.ObjectStore;
import dev.zenith.objectstore.ObjectStoreException;
import dev.zenith.objectstore.StoredBytes;
import dev.zenith.objectstore.format.CorruptObjectException;

import java.io.InputStream;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;

/**
 * An object read as a stream of ranges of {@code rangeSize} bytes, with {@code ahead} of them
 * requested at once (the next ones are on their way while one is consumed): memory is at most
 * {@code ahead * rangeSize} whatever the object's size. Each range is retried on its own, so a
 * download cut by an outage continues from the range it was at. The bytes are not verified here
 * (the frame decoder that reads this stream does that).
 */
final class RangeStream extends InputStream {
    private final ObjectStore store;
    private final Retrier retrier;
    private final TransferProgress progress;
    private final String key;
    private final int rangeSize;
    private final int ahead;
    private final Deque<CompletableFuture<byte[]>> requested = new ArrayDeque<>();
    private volatile long size = -1; // unknown until the first answer
    private long nextOffset;
    private byte[] current = new byte[0];
    private int position;

    RangeStream(ObjectStore store, Retrier retrier, TransferProgress progress, String key, int rangeSize, int ahead) {
        if (rangeSize < 1 || ahead < 1) {
            throw new IllegalArgumentException("ranges of at least one byte, at least one at a time");
        }
        this.store = store;
        this.retrier = retrier;
        this.progress = progress;
        this.key = key;
        this.rangeSize = rangeSize;
        this.ahead = ahead;
    }

    @Override
    public int read() {
        byte[] one = new byte[1];
        return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
    }

    @Override
    public int read(byte[] b, int off, int len) {
        if (len == 0) {
            return 0;
        }
        if (position == current.length) {
            request();
            if (requested.isEmpty()) {
                return -1;
            }
            current = join(requested.poll());
            position = 0;
            request(); // the next ones travel while this one is read
        }
        int n = Math.min(len, current.length - position);
        System.arraycopy(current, position, b, off, n);
        position += n;
        return n;
    }

    /** Sends requests up to {@code ahead} outstanding (only one until the object's size is known). */
    private void request() {
        while (requested.size() < (size < 0 ? 1 : ahead) && (size < 0 ? nextOffset == 0 : nextOffset < size)) {
            long offset = nextOffset;
            requested.add(retrier.run(() -> store.getRange(key, offset, rangeSize)).thenApply(r -> accept(offset, r)));
            nextOffset += rangeSize;
            if (size < 0) {
                return; // the first answer tells the size
            }
        }
    }

    private byte[] accept(long offset, Optional<StoredBytes> answer) {
        StoredBytes got = answer.orElseThrow(() -> new ObjectStoreException(ObjectStoreException.Kind.CORRUPT,
                key + " is missing from " + store.describe()));
        synchronized (this) {
            if (size < 0) {
                size = got.info().size();
            } else if (got.info().size() != size) {
                throw new CorruptObjectException(key, "its size changed from " + size + " to " + got.info().size()
                        + " bytes while it was downloaded");
            }
        }
        long expected = Math.min(rangeSize, got.info().size() - offset);
        if (got.bytes().length != expected) {
            throw new CorruptObjectException(key, "the range at byte " + offset + " has " + got.bytes().length
                    + " bytes, not " + expected);
        }
        progress.sent(got.bytes().length);
        return got.bytes();
    }

    /** Drops the ranges still on their way. */
    @Override
    public void close() {
        requested.forEach(f -> f.cancel(false));
        requested.clear();
    }
}
