package dev.zenith.server.pageservice;

import dev.zenith.protocol.pagestream.PagestreamCommand;
import dev.zenith.protocol.server.PageServiceSession;
import dev.zenith.protocol.wire.FrontendDecoder;
import dev.zenith.server.config.ZenithConfig;
import dev.zenith.server.storages.StorageRegistry;
import dev.zenith.storage.Store;
import dev.zenith.storage.page.PageSource;
import dev.zenith.storage.timeline.TimelineId;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.net.NetSocket;

import java.util.Collections;
import java.util.Map;
import java.util.Set;
import java.util.WeakHashMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BiPredicate;
import java.util.function.Function;

/**
 * The page service: Neon's pagestream (v2 and v3) on normal connections of the pg port, after the
 * WAL service's start-up and authentication. What every page connection shares: the page I/O threads that
 * its channel moves to once logged in, which read the store (no Vert.x event loop does), the page sources,
 * and the settings. Answers come from a
 * {@link PageSource} per storage, given by the daemon: relation sizes and existence at any LSN the page
 * index covers ({@code IndexedPageSource}), pages from page versions, with redo where none is exact
 * ({@code redo.RedoPageSource}).
 */
public final class PageService {
    private final Vertx vertx;
    private final ZenithConfig.PageServiceSettings settings;
    private final StorageRegistry storages;
    private final BoundsCache bounds;
    private final RequestAnswers answers;
    private final PageIoLoops ioLoops;
    /** Where a request whose answer needs a download runs (an evicted value): never a page I/O thread. */
    private final ExecutorService fetches;
    /** Weak on the store: a detached storage's source goes with it. */
    private final Map<Store, PageSource> sources = Collections.synchronizedMap(new WeakHashMap<>());
    private final Function<Store, PageSource> sourceOf;
    private final Set<PageConnection> connections = ConcurrentHashMap.newKeySet();

    /** {@code writers}: whether a running compute writes (storage name, timeline). */
    public PageService(Vertx vertx, ZenithConfig.PageServiceSettings settings, StorageRegistry storages,
                       BiPredicate<String, TimelineId> writers, Function<Store, PageSource> sourceOf) {
        this.vertx = vertx;
        this.sourceOf = sourceOf;
        this.settings = settings;
        this.storages = storages;
        BoundsCache bounds = new BoundsCache(vertx, writers);
        this.bounds = bounds;
        this.answers = new RequestAnswers(bounds);
        this.ioLoops = new PageIoLoops(vertx, settings.workers(), settings.spinMicros() * 1_000L);
        AtomicInteger n = new AtomicInteger();
        this.fetches = Executors.newFixedThreadPool(settings.fetchThreads(), r -> {
            Thread t = new Thread(r, "zenith-page-fetch-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
        storages.onDetach(s -> {
            bounds.forget(s.store());
            connections.stream().filter(c -> c.reads(s.store()))
                    .forEach(c -> c.fatal("57P01", "storage '" + s.name() + "' was detached"));
        });
    }

    /**
     * Takes over an authenticated normal connection (on its Vert.x event loop, which it then leaves for a page
     * I/O thread); {@code decoder} may hold bytes the client already sent.
     */
    public void serve(NetSocket socket, FrontendDecoder decoder) {
        PageConnection c = new PageConnection(this, socket, new PageServiceSession(decoder));
        connections.add(c);
        c.start();
    }

    void forget(PageConnection c) {
        connections.remove(c);
    }

    /** A stream's target, or UnknownTargetException naming what is missing (blocking: reads the store). */
    PageTarget resolve(PagestreamCommand command) throws UnknownTargetException {
        StorageRegistry.Storage s = storages.findByTenantId(command.tenantId()).orElseThrow(() -> new UnknownTargetException(
                "tenant " + command.tenantId() + " not found: no attached storage has that tenant_id (zenith storage list --json)"));
        TimelineId timeline = TimelineId.parse(command.timelineId());
        if (s.store().timelines().get(timeline).isEmpty()) {
            throw new UnknownTargetException("timeline " + command.timelineId() + " not found in tenant " + command.tenantId()
                    + " (storage '" + s.name() + "')");
        }
        return new PageTarget(s.name(), s.store(), timeline, sources.computeIfAbsent(s.store(), sourceOf),
                bounds.entry(s.store(), timeline));
    }

    /** A pagestream command naming a tenant or timeline we do not have. */
    static final class UnknownTargetException extends Exception {
        UnknownTargetException(String message) {
            super(message);
        }
    }

    PageIoLoops ioLoops() {
        return ioLoops;
    }

    ExecutorService fetches() {
        return fetches;
    }

    Vertx vertx() {
        return vertx;
    }

    RequestAnswers answers() {
        return answers;
    }

    ZenithConfig.PageServiceSettings settings() {
        return settings;
    }

    /** Ends every page connection, then the page I/O threads. */
    public Future<Void> close() {
        connections.forEach(c -> c.fatal("57P01", "zenith is shutting down"));
        fetches.shutdown(); // a download in progress ends with its retries; its answer finds the connection closed
        return Future.fromCompletionStage(ioLoops.close());
    }
}
