package dev.zenith.server.offload;

import dev.zenith.objectstore.ObjectStore;
import dev.zenith.objectstore.format.Manifest;
import dev.zenith.objectstore.log.ManifestLog;
import dev.zenith.objectstore.log.ManifestView;
import dev.zenith.objectstore.s3.S3ObjectStore;
import dev.zenith.objectstore.transfer.Downloader;
import dev.zenith.pgexec.FileTrees;
import dev.zenith.pgexec.PrivateFiles;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.logging.Logger;

/**
 * A restore's base, downloaded while the prefix's lease is still being taken: the bucket probe and the lease's
 * settle are seconds of waiting, and a download only reads, so it need not wait until the prefix is ours. It goes
 * into a directory of its own beside the cache ({@code s3-cache/NAME.base-ahead}: an earlier cache there is only
 * deleted under the lease), from the manifest as read before the lease. Under the lease it is kept only when the
 * manifest read then names the same base (someone may have written the prefix in between); otherwise it is thrown
 * away and the restore downloads as before. Nothing is written to the prefix here. The download runs on a thread of
 * its own; {@link #close} stops it and removes what is left.
 */
final class BaseAhead implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(BaseAhead.class.getName());

    private static final long CLOSE_WAIT_SECONDS = 60;

    private final Path dir;
    private final ObjectStore store;
    private final Downloader downloader;
    /** The pieces of the base downloaded into {@link #dir}; empty when the prefix held no base. */
    private final CompletableFuture<List<Manifest.Entry>> downloaded = new CompletableFuture<>();
    private volatile boolean stopped;

    private BaseAhead(Path dir, ObjectStore store) {
        this.dir = dir;
        this.store = store;
        this.downloader = new Downloader(store, RemoteHome.TRANSFERS);
    }

    /** Where the base for the cache {@code cacheDir} is downloaded ahead. */
    static Path directory(Path cacheDir) {
        return cacheDir.resolveSibling(cacheDir.getFileName() + ".base-ahead");
    }

    /**
     * Begins downloading the newest base of {@code remote}'s prefix for the cache {@code cacheDir}; never throws:
     * whatever fails here is found again, and answered, by the restore under the lease.
     */
    static BaseAhead start(S3Remote remote, Path cacheDir) {
        Path dir = directory(cacheDir);
        BaseAhead ahead;
        try {
            FileTrees.delete(dir); // a crashed restore's
            PrivateFiles.directory(dir);
            ahead = new BaseAhead(dir, S3ObjectStore.open(remote.settings()));
        } catch (IOException | RuntimeException e) {
            LOG.fine("no base download ahead of the lease for " + cacheDir + ": " + e);
            return null;
        }
        Thread t = new Thread(ahead::download, "zenith-restore-ahead");
        t.setDaemon(true);
        t.start();
        return ahead;
    }

    private void download() {
        try {
            List<Manifest.Entry> base = RemoteNames.currentBase(ManifestLog.read(store));
            if (!base.isEmpty() && !stopped) {
                Restore.base(base, downloader, dir, () -> stopped);
            }
            downloaded.complete(base);
        } catch (IOException | RuntimeException e) {
            downloaded.completeExceptionally(e);
        }
    }

    /**
     * Waits for the download and, when it is the base {@code view} (read under the lease) names, moves it into
     * {@code cacheDir} as its {@code data.mdb}; false when it is another base or failed (the caller downloads then).
     */
    boolean moveInto(ManifestView view, Path cacheDir) throws IOException {
        List<Manifest.Entry> base;
        try {
            base = Await.result(downloaded, BaseUpload.UPLOAD_WAIT_SECONDS);
        } catch (RuntimeException e) {
            LOG.info("the base downloaded ahead of the lease into " + dir + " failed (" + e.getMessage()
                    + "); downloading it again under the lease");
            return false;
        }
        if (base.isEmpty() || !base.equals(RemoteNames.currentBase(view))) {
            LOG.info("the prefix's base changed while its lease was taken; downloading the new one");
            return false;
        }
        Files.move(dir.resolve("data.mdb"), cacheDir.resolve("data.mdb"), StandardCopyOption.ATOMIC_MOVE);
        return true;
    }

    /**
     * Stops the download (the pieces on their way are waited for, at most {@link #CLOSE_WAIT_SECONDS}: a manifest read
     * S3 does not answer is left to fail by itself), closes its client, removes its directory.
     */
    @Override
    public void close() {
        stopped = true;
        try {
            downloaded.handle((v, x) -> null).get(CLOSE_WAIT_SECONDS, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (ExecutionException | TimeoutException e) {
            LOG.warning("the base download ahead into " + dir + " did not stop in " + CLOSE_WAIT_SECONDS + " s; left to fail");
        }
        downloader.close();
        try {
            store.close();
        } catch (Exception e) {
            // nothing more to do
        }
        try {
            FileTrees.delete(dir);
        } catch (IOException e) {
            LOG.warning("could not remove the base downloaded ahead at " + dir + ": " + e.getMessage());
        }
    }
}
