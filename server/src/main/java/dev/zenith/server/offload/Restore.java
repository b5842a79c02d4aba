package dev.zenith.server.offload;

import dev.zenith.objectstore.format.Manifest;
import dev.zenith.objectstore.log.ManifestView;
import dev.zenith.objectstore.transfer.Downloader;
import dev.zenith.storage.Store;
import dev.zenith.storage.timeline.Timeline;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.storage.wal.WalAppend;
import dev.zenith.storage.wal.WalIndexer;
import dev.zenith.wal.Lsn;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.BooleanSupplier;
import java.util.logging.Logger;

/**
 * Brings a prefix's storage into an empty cache directory: the current base's pieces, each verified
 * (SHA-256 of its content, as the manifest names it) as it is downloaded, joined into the LMDB file;
 * then, once the store is open, each timeline's WAL pieces after the base, decoded and indexed as the
 * receiver would have. Blocking; worker thread.
 */
final class Restore {
    private static final Logger LOG = Logger.getLogger(Restore.class.getName());

    private Restore() {
    }

    /** Whether the prefix holds a storage (a base). */
    static boolean holdsStorage(ManifestView view) {
        return !RemoteNames.currentBase(view).isEmpty();
    }

    /** Pieces on their way at once: the downloader's threads (decoding and hashing take a core each). */
    private static final int PIECES_AHEAD = 2;

    /**
     * Downloads the base made of {@code pieces} (a view's {@link RemoteNames#currentBase}) as {@code dir/data.mdb}
     * ({@code dir} empty or missing): {@link #PIECES_AHEAD} pieces at once, each verified as it arrives and written
     * straight to its place in the file (no piece files copied in afterwards: that wrote and read the whole store once
     * more); the file is synced once and renamed into place only when every piece arrived whole (a restore cut short
     * is thrown away whole and started again). {@code stop} is asked before each piece: once true, the pieces on their
     * way are waited for and a {@link CancellationException} ends the download.
     */
    static void base(List<Manifest.Entry> pieces, Downloader downloader, Path dir, BooleanSupplier stop) throws IOException {
        Files.createDirectories(dir);
        Path data = dir.resolve("data.mdb");
        Path partial = dir.resolve("data.mdb.restoring");
        List<CompletableFuture<Long>> downloads = new ArrayList<>();
        long began = System.nanoTime();
        long downloaded;
        ExecutorService syncer = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "zenith-restore-sync");
            t.setDaemon(true);
            return t;
        });
        List<Future<?>> syncs = new ArrayList<>();
        try (FileChannel out = FileChannel.open(partial, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
                StandardOpenOption.WRITE)) {
            long at = 0;
            for (int i = 0; i < pieces.size(); i++) {
                if (i >= PIECES_AHEAD) {
                    Await.result(downloads.get(i - PIECES_AHEAD), BaseUpload.UPLOAD_WAIT_SECONDS);
                    // the pieces written so far go to the disk while the next ones download: the kernel would start
                    // only at its dirty ratio (gigabytes), so the one sync at the end wrote the whole file alone
                    syncs.add(syncer.submit(() -> {
                        out.force(false);
                        return null;
                    }));
                }
                if (stop.getAsBoolean()) {
                    throw new CancellationException("the download of the base into " + dir + " was stopped");
                }
                Manifest.Entry e = pieces.get(i);
                downloads.add(downloader.downloadInto(e.key(), e.hash(), e.contentLength(), out, at));
                at += e.contentLength();
            }
            for (CompletableFuture<Long> d : downloads) {
                Await.result(d, BaseUpload.UPLOAD_WAIT_SECONDS);
            }
            downloaded = System.nanoTime();
            awaitSyncs(syncs);
            out.force(true);
        } catch (IOException | RuntimeException e) {
            // nothing may still write into the directory the caller deletes
            downloads.forEach(d -> d.handle((v, x) -> null).join());
            throw e;
        } finally {
            syncer.shutdownNow();
        }
        Files.move(partial, data, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        LOG.info("the base's " + pieces.size() + " pieces downloaded into " + data + " in " + (downloaded - began) / 1_000_000
                + " ms, synced in " + (System.nanoTime() - downloaded) / 1_000_000 + " ms");
    }

    /** Waits for the syncs behind the download; the first failure is the download's (a disk that cannot write). */
    private static void awaitSyncs(List<Future<?>> syncs) throws IOException {
        for (Future<?> f : syncs) {
            try {
                f.get();
            } catch (ExecutionException e) {
                throw e.getCause() instanceof IOException io ? io : new IOException(e.getCause());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted while the restored base was synced", e);
            }
        }
    }

    /** Appends each timeline's WAL pieces that continue the store's WAL; returns the bytes added. */
    static long walAfterBase(ManifestView view, RemoteHome home, Store store) {
        long added = 0;
        for (Timeline t : store.timelines().all()) {
            added += walOf(view, home, store, t.id());
        }
        return added;
    }

    private static long walOf(ManifestView view, RemoteHome home, Store store, TimelineId id) {
        long added = 0;
        for (Manifest.Entry e : RemoteNames.walOf(view, id)) {
            Lsn end = store.wal().end(id).orElse(null);
            if (end == null || !RemoteNames.end(e).isAfter(end)) {
                continue;
            }
            Lsn start = RemoteNames.start(e);
            if (start.isAfter(end)) {
                LOG.warning("timeline " + id + ": the WAL in S3 has a gap after " + end + " (next piece starts at "
                        + start + "); restored up to " + end);
                return added;
            }
            byte[] bytes = Await.result(home.downloader.get(e.key(), e.hash(), e.contentLength()), BaseUpload.UPLOAD_WAIT_SECONDS);
            int skip = (int) end.minus(start);
            byte[] tail = java.util.Arrays.copyOfRange(bytes, skip, bytes.length);
            WalIndexer indexer = WalIndexer.resume(store.wal(), id);
            var invalid = indexer.feed(tail);
            if (invalid != null) {
                throw new IllegalStateException("the WAL piece " + e.key() + " of timeline " + id + " is not valid WAL: " + invalid);
            }
            WalAppend append = indexer.drain();
            if (append != null) {
                store.wal().append(List.of(append));
                added += append.bytes().length;
            }
        }
        return added;
    }
}
