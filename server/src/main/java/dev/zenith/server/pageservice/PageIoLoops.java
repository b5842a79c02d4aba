package dev.zenith.server.pageservice;

import dev.zenith.storage.lmdb.ColdValues;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.EpollIoHandler;
import io.vertx.core.Vertx;
import io.vertx.core.internal.VertxInternal;
import io.vertx.core.impl.transports.EpollTransport;
import io.vertx.core.internal.net.NetSocketInternal;
import io.vertx.core.net.NetSocket;
import io.vertx.core.spi.transport.Transport;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The page service's own I/O threads ({@code zenith-page-io}, {@code page_service.workers} of them). A
 * logged-in page connection's channel moves here from the Vert.x event loop that ran its start-up, and one
 * thread then decodes a request, answers it from the store (LMDB reads: microseconds) and writes the answer.
 * With the answers on a worker pool, each request cost two thread hand-offs (loop to worker, worker back to
 * the loop), each a wake-up of a sleeping thread, together more than the page itself. Vert.x's loops never see
 * these connections' reads; redo runs and waits for WAL never run here (their answers come back as tasks).
 * The group uses Vert.x's transport (epoll where there is one), so that a channel can move between them; with epoll,
 * a thread polls for a moment before it blocks ({@link BoundedSpin}, {@code page_service.spin_us}).
 */
final class PageIoLoops {
    private final EventLoopGroup group;

    /** {@code spinNanos}: how long a thread polls before it blocks (0: never; only with epoll). */
    PageIoLoops(Vertx vertx, int threads, long spinNanos) {
        AtomicInteger n = new AtomicInteger();
        // Nothing on these threads may download an evicted value (PageConnection hands such reads to a fetch
        // thread): marked once for the thread's life, not set and cleared around every request (ThreadLocal
        // churn was a twentieth of the thread's time).
        ThreadFactory factory = r -> {
            Runnable loop = () -> ColdValues.withoutFetching(() -> {
                r.run();
                return null;
            });
            Thread t = new Thread(loop, "zenith-page-io-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        };
        Transport transport = ((VertxInternal) vertx).transport();
        if (spinNanos > 0 && transport instanceof EpollTransport) {
            AtomicInteger spinners = new AtomicInteger();
            IoHandlerFactory polling = EpollIoHandler.newFactory(0, () -> new BoundedSpin(spinNanos, spinners));
            this.group = new MultiThreadIoEventLoopGroup(threads, factory, polling);
        } else {
            this.group = transport.eventLoopGroup(Transport.IO_EVENT_LOOP_GROUP, threads, factory, 100);
        }
    }

    /**
     * Takes the socket's channel away from Vert.x and registers it with one of our loops, with {@code handler}
     * last in its pipeline; completes on that loop. Call on the socket's event loop: the move runs after what
     * that loop is doing now (Vert.x's current read, and the flush of what was written through the socket), so
     * whatever the client sent until then reaches the socket's handler first. Fails if the channel closed meanwhile.
     */
    CompletableFuture<Channel> adopt(NetSocket socket, ChannelHandler handler) {
        ChannelHandlerContext vertxHandler = ((NetSocketInternal) socket).channelHandlerContext();
        Channel ch = vertxHandler.channel();
        CompletableFuture<Channel> moved = new CompletableFuture<>();
        ch.eventLoop().execute(() -> {
            ch.config().setAutoRead(false);
            ch.pipeline().remove(vertxHandler.handler());
            ch.flush();
            if (!ch.isActive()) {
                moved.completeExceptionally(new IllegalStateException("the connection closed"));
                return;
            }
            ch.deregister().addListener(d -> {
                if (!d.isSuccess()) {
                    ch.close();
                    moved.completeExceptionally(d.cause());
                    return;
                }
                group.next().register(ch).addListener(r -> {
                    if (!r.isSuccess()) {
                        ch.close();
                        moved.completeExceptionally(r.cause());
                        return;
                    }
                    ch.pipeline().addLast("zenith-page-connection", handler);
                    ch.config().setAutoRead(true); // reads come after this task, when the handler knows its channel
                    moved.complete(ch);
                });
            });
        });
        return moved;
    }

    /** Stops the threads once the tasks queued so far ran (the connections' ends); completes when they stopped. */
    CompletableFuture<Void> close() {
        CompletableFuture<Void> stopped = new CompletableFuture<>();
        group.shutdownGracefully(0, 5, TimeUnit.SECONDS).addListener(f -> stopped.complete(null));
        return stopped;
    }
}
