package dev.zenith.objectstore.transfer;

import dev.zenith.objectstore.FileSync;
import dev.zenith.objectstore.Futures;
import dev.zenith.objectstore.ObjectStore;
import dev.zenith.objectstore.ObjectStoreException;
import dev.zenith.objectstore.format.ContentHash;
import dev.zenith.objectstore.format.CorruptObjectException;
import dev.zenith.objectstore.format.ObjectFrame;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;

/**
 * Fetches blobs and verifies every byte before anyone sees them (the server is never trusted):
 * the frame's checks, and the hash the caller knows the blob by. Transient failures are retried
 * with backoff; a corrupt or missing blob is an error at once, naming it. Downloads, decoding and
 * file writes run on the downloader's own {@code parallelObjects} threads. {@link #get} holds an
 * object whole in memory (manifests, small blobs); {@link #downloadTo} streams any size in
 * bounded memory.
 */
public final class Downloader implements AutoCloseable {
    private static final int RANGES_AHEAD = 2;
    private final ObjectStore store;
    private final TransferThreads threads;
    private final ExecutorService workers;
    private final TransferProgress progress;
    private final Retrier retrier;
    private final int partSize;

    public Downloader(ObjectStore store, TransferSettings settings) {
        this.store = store;
        this.partSize = settings.partSize();
        this.threads = new TransferThreads("zenith-download", settings);
        this.workers = threads.workers;
        this.progress = threads.progress;
        this.retrier = threads.retrier;
    }

    public TransferProgress progress() {
        return progress;
    }

    /** The verified content of {@code key}; {@code expected} is the hash a manifest or the key names (may be null). */
    public CompletableFuture<byte[]> get(String key, ContentHash expected, long contentLength) {
        return tracked(contentLength, () -> {
            byte[] stored = Futures.join(retrier.run(() -> store.get(key))).orElseThrow(() ->
                    new ObjectStoreException(ObjectStoreException.Kind.CORRUPT, key + " is missing from " + store.describe()))
                    .bytes();
            progress.sent(stored.length);
            byte[] content = ObjectFrame.decode(key, stored, expected);
            if (content.length != contentLength) {
                throw new CorruptObjectException(key, "its content is " + content.length + " bytes, its manifest entry says "
                        + contentLength);
            }
            return content;
        });
    }

    /**
     * The verified content of {@code key} into the file {@code target}, streamed: the object is read
     * in ranges of {@code partSize} (two on their way at once) through the frame decoder into
     * {@code target.part} beside the target; only once the whole content's SHA-256 matches (and its
     * length the manifest's) is that file synced and renamed over {@code target} (and the directory
     * synced). Memory per download is two ranges, whatever the object's size; a corrupt object leaves
     * nothing behind; an outage in the middle is retried range by range from where it stopped.
     */
    public CompletableFuture<Path> downloadTo(String key, ContentHash expected, long contentLength, Path target) {
        return downloadTo(key, expected, contentLength, target, true);
    }

    /**
     * As {@link #downloadTo(String, ContentHash, long, Path)}; with {@code durable} false the file and its
     * directory are not synced (two fsyncs per object, most of the time of many small ones): for files the
     * caller re-verifies after a crash (staging), not for files it trusts for having been renamed.
     */
    public CompletableFuture<Path> downloadTo(String key, ContentHash expected, long contentLength, Path target,
                                              boolean durable) {
        return tracked(contentLength, () -> {
            Path tmp = target.resolveSibling(target.getFileName() + ".part");
            try {
                try (RangeStream in = new RangeStream(store, retrier, progress, key, partSize, RANGES_AHEAD);
                     FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
                             StandardOpenOption.WRITE)) {
                    OutputStream out = new BufferedOutputStream(Channels.newOutputStream(ch), 1 << 16);
                    ObjectFrame.Header h = ObjectFrame.decode(key, in, out, expected);
                    if (h.contentLength() != contentLength) {
                        throw new CorruptObjectException(key, "its content is " + h.contentLength()
                                + " bytes, its manifest entry says " + contentLength);
                    }
                    out.flush();
                    if (durable) {
                        ch.force(true);
                    }
                }
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
                if (durable) {
                    FileSync.syncDirectory(target.toAbsolutePath().getParent());
                }
            } catch (IOException e) {
                deleteQuietly(tmp);
                throw new UncheckedIOException(e);
            } catch (RuntimeException e) {
                deleteQuietly(tmp);
                throw e;
            }
            return target;
        });
    }

    /**
     * The verified content of {@code key} written into {@code target} from {@code position} on, streamed in bounded
     * ranges as {@link #downloadTo} does, with no file of its own and no rename: for a caller assembling one file from
     * many blobs at once, which throws the whole file away when any download fails (what was written before the
     * check failed is in it). Not synced.
     */
    public CompletableFuture<Long> downloadInto(String key, ContentHash expected, long contentLength, FileChannel target,
                                                long position) {
        return tracked(contentLength, () -> {
            try (RangeStream in = new RangeStream(store, retrier, progress, key, partSize, RANGES_AHEAD)) {
                OutputStream out = new BufferedOutputStream(new PositionalOutput(target, position), 1 << 20);
                ObjectFrame.Header h = ObjectFrame.decode(key, in, out, expected);
                if (h.contentLength() != contentLength) {
                    throw new CorruptObjectException(key, "its content is " + h.contentLength()
                            + " bytes, its manifest entry says " + contentLength);
                }
                out.flush();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            return contentLength;
        });
    }

    /** Runs {@code download} on a worker, counted in the progress as an object of {@code contentLength} bytes. */
    private <T> CompletableFuture<T> tracked(long contentLength, java.util.function.Supplier<T> download) {
        long id = progress.started(contentLength);
        CompletableFuture<T> f = CompletableFuture.supplyAsync(() -> {
            T done = download.get();
            progress.finished(id, contentLength, false);
            return done;
        }, workers);
        f.whenComplete((v, e) -> {
            if (e != null) {
                progress.abandoned(id, contentLength);
            }
        });
        return f;
    }

    /** Writes at its own position of a channel others write elsewhere in at the same time. */
    private static final class PositionalOutput extends OutputStream {
        private final FileChannel channel;
        private long at;

        PositionalOutput(FileChannel channel, long at) {
            this.channel = channel;
            this.at = at;
        }

        @Override
        public void write(int b) throws IOException {
            write(new byte[]{(byte) b}, 0, 1);
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            java.nio.ByteBuffer buf = java.nio.ByteBuffer.wrap(b, off, len);
            while (buf.hasRemaining()) {
                at += channel.write(buf, at);
            }
        }
    }

    private static void deleteQuietly(Path p) {
        try {
            Files.deleteIfExists(p);
        } catch (IOException ignored) {
            // a leftover .part is overwritten by the next attempt
        }
    }

    @Override
    public void close() {
        threads.close();
    }
}
