package dev.zenith.server.pageindex;

import dev.zenith.server.config.ZenithConfig;
import dev.zenith.server.storages.StorageRegistry;
import dev.zenith.storage.Store;

import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Keeps every attached storage's page index written behind its WAL: on its own thread, every
 * {@code page_index.interval_ms}, each store's {@link dev.zenith.storage.index.PageIndexer} indexes
 * what was appended since, in transactions of {@code page_index.batch_bytes} of WAL. Never on the
 * acknowledgement path or an event loop; a store that closes meanwhile (detach) finishes its batch
 * first and starts no other.
 */
public final class PageIndexLoop implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(PageIndexLoop.class.getName());

    private final StorageRegistry storages;
    private final ZenithConfig.PageIndexSettings settings;
    private final ScheduledExecutorService thread = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "zenith-page-index");
        t.setDaemon(true);
        return t;
    });

    public PageIndexLoop(StorageRegistry storages, ZenithConfig.PageIndexSettings settings) {
        this.storages = storages;
        this.settings = settings;
    }

    public void start() {
        thread.scheduleWithFixedDelay(this::pass, settings.intervalMs(), settings.intervalMs(), TimeUnit.MILLISECONDS);
    }

    /** Every storage until its index has caught up with the WAL stored when the pass began (or the loop stops). */
    private void pass() {
        for (StorageRegistry.Storage s : storages.list()) {
            Store store = s.store();
            try {
                store.index().indexer().batchBytes(settings.batchBytes());
                while (!thread.isShutdown() && store.index().indexer().indexAll() > 0) {
                    // one batch per timeline per round, so no timeline waits behind a long one
                }
            } catch (RuntimeException e) {
                LOG.log(Level.WARNING, "page index of storage '" + s.name() + "': " + e.getMessage(), e);
            }
        }
    }

    /** Stops after the batch in progress (before the storages close). */
    @Override
    public void close() {
        thread.shutdown();
        try {
            thread.awaitTermination(1, TimeUnit.MINUTES);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
