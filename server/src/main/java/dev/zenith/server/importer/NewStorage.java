package dev.zenith.server.importer;

import dev.zenith.pgexec.FileTrees;
import dev.zenith.pgexec.PrivateFiles;
import dev.zenith.storage.Store;
import dev.zenith.storage.image.StreamedPages;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A new storage an import fills under a temporary name beside the others: its store is open from the start, so
 * the source's relation pages go into it as they arrive ({@link StreamedPages}). {@link #moveTo} closes it and
 * gives it its name; closing it before deletes it, with all it holds (at start, {@link SnapshotImporter} removes
 * any a crash left). Since a crash throws it away whole, its LMDB commits are not flushed one by one: it is
 * synced once, before it takes its name.
 */
final class NewStorage implements AutoCloseable {
    private static final java.util.logging.Logger LOG = java.util.logging.Logger.getLogger(NewStorage.class.getName());
    private final Path temporary;
    private final Store store;
    private final StreamedPages streamed;
    private boolean closed;
    private boolean moved;
    /** Flushing what the store holds so far while the import goes on ({@link #startSync}), or null. */
    private Thread earlySync;

    private NewStorage(Path temporary, Store store) {
        this.temporary = temporary;
        this.store = store;
        this.streamed = store.images().streamPages();
    }

    static NewStorage create(Path temporary) throws IOException {
        PrivateFiles.directory(temporary);
        try {
            return new NewStorage(temporary, Store.openUnsynced(temporary));
        } catch (RuntimeException e) {
            FileTrees.delete(temporary);
            throw e;
        }
    }

    Store store() {
        return store;
    }

    StreamedPages streamed() {
        return streamed;
    }

    /**
     * Starts flushing the commits so far to disk on a thread of its own (the streamed pages: most of the store), so
     * that the disk writes them while PostgreSQL recovers the staged directory, and {@link #moveTo}'s sync has little
     * left to write. Durability is still {@link #moveTo}'s: it syncs again, after this one ended.
     */
    void startSync() {
        if (earlySync == null) {
            earlySync = new Thread(store::sync, "zenith-import-sync");
            earlySync.setDaemon(true);
            earlySync.start();
        }
    }

    /** Waits for {@link #startSync}'s flush (the store must not close under it); its failure is moveTo's sync's. */
    private void awaitEarlySync() {
        if (earlySync == null) {
            return;
        }
        boolean interrupted = false;
        while (earlySync.isAlive()) {
            try {
                earlySync.join();
            } catch (InterruptedException e) {
                interrupted = true; // a cancelled import still waits: LMDB's fdatasync cannot be stopped
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    /** Makes what the store holds durable, closes it and renames its directory to {@code path}. */
    void moveTo(Path path) throws IOException {
        long started = System.nanoTime();
        streamed.close();
        awaitEarlySync();
        long early = System.nanoTime();
        store.sync();
        closeStore();
        Files.move(temporary, path);
        moved = true;
        LOG.fine(() -> String.format("%s: waited %.3f s for the early sync, synced, closed and named in %.3f s", path,
                (early - started) / 1e9, (System.nanoTime() - early) / 1e9));
    }

    private void closeStore() {
        if (!closed) {
            closed = true;
            awaitEarlySync();
            try {
                streamed.close();
            } finally {
                store.close();
            }
        }
    }

    @Override
    public void close() throws IOException {
        try {
            closeStore();
        } finally {
            if (!moved && Files.exists(temporary)) {
                FileTrees.delete(temporary);
            }
        }
    }
}
