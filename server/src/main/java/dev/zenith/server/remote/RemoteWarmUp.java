package dev.zenith.server.remote;

import dev.zenith.objectstore.ObjectStore;
import dev.zenith.objectstore.catalogue.CatalogueNames;

import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.logging.Logger;

/**
 * Readies the S3 SDK in the background once a daemon has an s3 remote. Its first use in a JVM costs seconds of class
 * loading and initialisation (a first listing of a remote on S3Proxy took 4.5 s at load 15, the next 0.26 s; a pull's
 * first phase 6.9-11.9 s against 0.3-0.6 s from a file:// remote), which the first push, pull or listing after a
 * daemon start or a {@code remote add} paid. Once per daemon: the cost is the SDK's, not a remote's.
 */
final class RemoteWarmUp {
    private static final Logger LOG = Logger.getLogger(RemoteWarmUp.class.getName());

    private static final long WAIT_SECONDS = 20;

    private final AtomicBoolean started = new AtomicBoolean();

    /**
     * Starts the warm-up against {@code remote} (one request through the SDK's whole path) unless it is not an s3
     * remote or one was started already; the future says whether the request was answered. Never fails: a remote that
     * cannot be reached now is the business of the push or pull that uses it.
     */
    Optional<CompletableFuture<Boolean>> start(Remote remote) {
        if (!remote.isS3() || !started.compareAndSet(false, true)) {
            return Optional.empty();
        }
        CompletableFuture<Boolean> done = new CompletableFuture<>();
        Thread t = new Thread(() -> done.complete(reach(remote)), "zenith-remote-warm-up");
        t.setDaemon(true);
        t.setPriority(Thread.MIN_PRIORITY);
        t.start();
        return Optional.of(done);
    }

    private static boolean reach(Remote remote) {
        long t0 = System.nanoTime();
        try (ObjectStore objects = RemoteStores.open(remote)) {
            // bounded: the store retries an unreachable server with backoff for minutes, and warming up is worth less
            objects.head(CatalogueNames.SNAPSHOTS).get(WAIT_SECONDS, TimeUnit.SECONDS);
            LOG.fine(() -> String.format("S3 client readied with remote %s in %.2f s", remote.name(), (System.nanoTime() - t0) / 1e9));
            return true;
        } catch (Exception e) {
            LOG.fine(() -> "readying the S3 client with remote " + remote.name() + " failed: " + e);
            return false;
        }
    }
}
