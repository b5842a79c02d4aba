package dev.zenith.objectstore.transfer;

import dev.zenith.objectstore.Futures;
import dev.zenith.objectstore.ObjectStore;
import dev.zenith.objectstore.ObjectStoreException;
import dev.zenith.objectstore.format.ContentHash;
import dev.zenith.objectstore.format.ObjectFrame;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.ByteBuffer;
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
 * file writes run on the downloader's own {@code parallelObjects} threads, so at most that many
 * objects are held in memory at once (objects are whole in memory: keep them part-sized).
 */
public final class Downloader implements AutoCloseable {
    private final ObjectStore store;
    private final TransferThreads threads;
    private final ExecutorService workers;
    private final TransferProgress progress;
    private final Retrier retrier;

    public Downloader(ObjectStore store, TransferSettings settings) {
        this.store = store;
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
        long id = progress.started(contentLength);
        CompletableFuture<byte[]> f = CompletableFuture.supplyAsync(() -> {
            byte[] stored = Futures.join(retrier.run(() -> store.get(key))).orElseThrow(() ->
                    new ObjectStoreException(ObjectStoreException.Kind.CORRUPT, key + " is missing from " + store.describe()))
                    .bytes();
            progress.sent(stored.length);
            byte[] content = ObjectFrame.decode(key, stored, expected);
            progress.finished(id, contentLength, false);
            return content;
        }, workers);
        f.whenComplete((v, e) -> {
            if (e != null) {
                progress.abandoned(id, contentLength);
            }
        });
        return f;
    }

    /** Like {@link #get}, into {@code target}: written beside it, synced, then renamed, so it is whole or absent. */
    public CompletableFuture<Path> downloadTo(String key, ContentHash expected, long contentLength, Path target) {
        return get(key, expected, contentLength).thenApplyAsync(content -> {
            Path tmp = target.resolveSibling(target.getFileName() + ".part");
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
                    StandardOpenOption.WRITE)) {
                ByteBuffer b = ByteBuffer.wrap(content);
                while (b.hasRemaining()) {
                    ch.write(b);
                }
                ch.force(true);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            try {
                return Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }, workers);
    }

    @Override
    public void close() {
        threads.close();
    }
}
