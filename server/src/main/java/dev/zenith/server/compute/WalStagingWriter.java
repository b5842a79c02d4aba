package dev.zenith.server.compute;

import dev.zenith.storage.Store;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.wal.Lsn;

import java.io.IOException;
import java.nio.file.Path;
import java.util.function.LongConsumer;

/**
 * The WAL a rebuilt data directory replays, written into a staging directory on a thread of its own while the
 * directory's pages are written, so that neither waits for the other. {@link #finish} waits for it (always
 * before the store may be closed: the thread reads it) and rethrows what it failed with. Blocking.
 */
final class WalStagingWriter {
    private final Thread thread;
    private volatile Throwable failure;

    private WalStagingWriter(Store store, TimelineId timeline, Lsn from, Lsn to, Path walDir, LongConsumer bytesRead) {
        thread = new Thread(() -> {
            try {
                store.pgWal().writeSegmentsForRecovery(timeline, from, to, walDir, bytesRead);
            } catch (Throwable t) {
                failure = t;
            }
        }, "zenith-rebuild-wal");
        thread.setDaemon(true);
    }

    /** Starts writing the segments of {@code from}..{@code to} into {@code walDir}. */
    static WalStagingWriter start(Store store, TimelineId timeline, Lsn from, Lsn to, Path walDir, LongConsumer bytesRead) {
        WalStagingWriter w = new WalStagingWriter(store, timeline, from, to, walDir, bytesRead);
        w.thread.start();
        return w;
    }

    /** Waits until the segments are written (uninterruptibly); throws what writing them failed with. */
    void finish() throws IOException {
        boolean interrupted = false;
        while (thread.isAlive()) {
            try {
                thread.join();
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
        Throwable t = failure;
        if (t instanceof IOException io) {
            throw io;
        }
        if (t instanceof RuntimeException re) {
            throw re;
        }
        if (t instanceof Error error) {
            throw error;
        }
    }
}
