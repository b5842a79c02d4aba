package dev.zenith.server.pageservice;

import dev.zenith.protocol.pagestream.PagestreamRequest;
import dev.zenith.protocol.pagestream.PagestreamResponse;
import dev.zenith.protocol.server.PageServiceEvent;
import dev.zenith.protocol.server.PageServiceSession;
import dev.zenith.protocol.wire.ByteWriter;
import dev.zenith.protocol.wire.ErrorFields;
import dev.zenith.server.ingest.WalReceiver;
import dev.zenith.storage.Store;
import dev.zenith.storage.lmdb.ColdValues;
import dev.zenith.storage.lmdb.EvictedValueException;
import dev.zenith.wal.Lsn;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.EventLoop;
import io.netty.channel.WriteBufferWaterMark;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.net.NetSocket;

import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * One page connection: glues {@link PageServiceSession} to the channel and the store. Once logged in, its
 * channel runs on a page I/O thread ({@link PageIoLoops}), which decodes each request, answers it there
 * and writes the answer: no thread hand-off per request. Answers are written in request order as soon as
 * the oldest is ready, so a client may send many requests before it reads; an answer that takes a redo run
 * or waits for WAL comes back to this thread later, and the requests behind it are answered meanwhile.
 * An answer that needs a download (an s3 storage's evicted value) is made on a fetch thread in the same way.
 * While {@code max_pipelined_requests} requests are in progress or the channel's write buffer is full, it
 * stops decoding and reading: a slow reader holds the client back instead of making us buffer its answers.
 * Every method runs on the connection's I/O thread, except {@link #fatal} and what runs before the move.
 */
final class PageConnection {
    private static final Logger LOG = Logger.getLogger(PageConnection.class.getName());
    /** Room for many answers on the way out before we stop taking requests (an answer is 8 KiB). */
    private static final int WRITE_QUEUE_BYTES = 1 << 20;
    /** The kept outbound buffer's least size (one GetPage answer is 8,222 bytes) and greatest. */
    private static final int KEPT_OUT_MIN_BYTES = 8192 + 64;
    private static final int KEPT_OUT_MAX_BYTES = 64 * 1024;

    private final PageService service;
    private final NetSocket socket;
    private final PageServiceSession session;
    /** Requests in progress or answered but not yet written, and stream ends and failures, in client order. */
    private final ArrayDeque<Slot> slots = new ArrayDeque<>();
    /** The channel and its page I/O thread, once moved there. */
    private volatile Channel channel;
    private volatile EventLoop loop;
    private PageTarget target;
    private boolean paused;
    private volatile boolean closed;
    /** What {@link #write} fills and hands to the socket, reused; ours (one reference) between writes. */
    private ByteBuf out;

    /** One place in the order of what the client sent. */
    private static final class Slot {
        final PagestreamRequest request;
        final PageServiceEvent.Failed failure;
        PagestreamResponse response;
        MessageConsumer<String> walFollower;
        ScheduledFuture<?> walTimer;

        Slot(PagestreamRequest request, PageServiceEvent.Failed failure) {
            this.request = request;
            this.failure = failure;
        }

        boolean isStreamEnd() {
            return request == null && failure == null;
        }
    }

    PageConnection(PageService service, NetSocket socket, PageServiceSession session) {
        this.service = service;
        this.socket = socket;
        this.session = session;
    }

    /** On the socket's Vert.x event loop: what the client sends until the move is decoded after it. */
    void start() {
        socket.handler(data -> session.feed(ByteBuffer.wrap(data.getBytes())));
        socket.closeHandler(v -> closed());
        socket.resume(); // the login may have paused it (a throttled answer); what it holds comes to us now
        service.ioLoops().adopt(socket, new Handler()).whenComplete((ch, failure) -> {
            if (failure != null) {
                LOG.log(Level.FINE, "page connection lost while moving to its I/O thread", failure);
                closed();
                return;
            }
            ch.config().setWriteBufferWaterMark(new WriteBufferWaterMark(WRITE_QUEUE_BYTES / 2, WRITE_QUEUE_BYTES));
            channel = ch;
            loop = ch.eventLoop();
            if (closed) {
                ch.close(); // told to end (shutdown, detach) while moving
                return;
            }
            pump(); // the client may have sent its command with its password
        });
    }

    /** The channel's events on its I/O thread. */
    private final class Handler extends ChannelInboundHandlerAdapter {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ByteBuf data = (ByteBuf) msg;
            try {
                session.feed(data.nioBuffer());
            } finally {
                data.release();
            }
            pump();
        }

        @Override
        public void channelWritabilityChanged(ChannelHandlerContext ctx) {
            pump();
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            closed();
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            LOG.log(Level.FINE, "page connection error", cause);
            close();
        }
    }

    boolean reads(Store store) {
        PageTarget t = target;
        return t != null && t.store() == store;
    }

    /**
     * Decodes and answers what the client sent while there is room, writes what is answered in order, and
     * stops or starts reading the channel by whether there is room.
     */
    private void pump() {
        // Writing answers makes room for more requests: go on until neither makes progress.
        for (boolean progress = true; progress && !closed; ) {
            progress = decode();
            int before = slots.size();
            writeAnswered();
            progress |= slots.size() < before;
        }
        if (closed) {
            return;
        }
        boolean busy = busy();
        if (busy != paused) {
            paused = busy;
            channel.config().setAutoRead(!busy);
        }
    }

    /** Decodes and answers while there is room; whether anything was decoded. */
    private boolean decode() {
        boolean any = false;
        while (!closed && !busy()) {
            PageServiceEvent e = session.next();
            if (e == null) {
                break;
            }
            any = true;
            if (e instanceof PageServiceEvent.Request r) {
                Slot s = new Slot(r.request(), null);
                slots.add(s);
                answer(s);
            } else {
                handle(e);
            }
        }
        return any;
    }

    private boolean busy() {
        return slots.size() >= service.settings().maxPipelinedRequests() || !channel.isWritable();
    }

    private void handle(PageServiceEvent e) {
        if (e instanceof PageServiceEvent.StreamRequested c) {
            try {
                target = service.resolve(c.command());
                session.startStreaming(c.command().version());
            } catch (PageService.UnknownTargetException | RuntimeException t) {
                session.refuse(ErrorFields.of("ERROR", "3D000", t instanceof PageService.UnknownTargetException
                        ? t.getMessage() : "cannot open the page stream: " + t));
            }
        } else if (e instanceof PageServiceEvent.StreamEnded) {
            slots.add(new Slot(null, null));
        } else if (e instanceof PageServiceEvent.Failed f) {
            slots.add(new Slot(null, f));
        } else if (e instanceof PageServiceEvent.Terminated) {
            close();
        }
        // QueryRefused: the session queued its answer, which writeAnswered sends.
    }

    /**
     * Answers the request here (store reads), or arranges for its answer to come later. A read that needs an
     * evicted value's download is run again on a fetch thread, and so is every request that asks for free-space
     * map lengths (their source may first decode the WAL since a base: up to a checkpoint interval): this
     * thread's other connections go on meanwhile, and this one's answers stay in order (the slot waits at its place).
     */
    private void answer(Slot s) {
        PageTarget t = target;
        if (RequestAnswers.needsFreeSpaceMaps(s.request)) {
            answerOffLoop(t, s);
            return;
        }
        RequestAnswers.Outcome o;
        try {
            o = ColdValues.withoutFetching(() -> answered(t, s.request));
        } catch (EvictedValueException cold) {
            answerOffLoop(t, s);
            return;
        }
        outcome(s, o);
    }

    /** The request answered on a fetch thread (downloads allowed there); the outcome comes back to this thread. */
    private void answerOffLoop(PageTarget t, Slot s) {
        try {
            CompletableFuture.supplyAsync(() -> answered(t, s.request), service.fetches())
                    .whenComplete((a, failed) -> onLoop(() -> outcome(s, failed == null ? a
                            : RequestAnswers.error(s.request.header(), "internal error: " + failed))));
        } catch (RejectedExecutionException shuttingDown) {
            outcome(s, RequestAnswers.error(s.request.header(), "zenith is shutting down"));
        }
    }

    /** The request's outcome; a bug becomes an Error answer (the stream goes on). */
    private RequestAnswers.Outcome answered(PageTarget t, PagestreamRequest request) {
        try {
            return service.answers().answer(t, request);
        } catch (EvictedValueException cold) {
            throw cold;
        } catch (RuntimeException bug) {
            LOG.log(Level.WARNING, "page service: answering " + RequestAnswers.describe(request) + " failed", bug);
            return RequestAnswers.error(request.header(), "internal error: " + bug);
        }
    }

    /** Runs on the connection's I/O thread (from a redo run's thread, the event bus, ...), unless it closed. */
    private void onLoop(Runnable task) {
        loop.execute(() -> {
            if (!closed) {
                task.run();
                pump();
            }
        });
    }

    private void outcome(Slot s, RequestAnswers.Outcome o) {
        if (s.response != null) {
            return; // answered already (a wake-up raced with another, or the wait timed out)
        }
        if (o instanceof RequestAnswers.Answered a) {
            stopWaiting(s);
            s.response = a.response();
        } else if (o instanceof RequestAnswers.Later later) {
            // A redo run makes the page on its own threads; the answer comes back to this thread. A request that
            // waited for WAL has it now: its wait ends here, or its timeout would answer a slow run with "timed out
            // waiting for WAL", and every new WAL would ask again (one more run each).
            stopWaiting(s);
            later.answer().thenAccept(a -> onLoop(() -> outcome(s, a)));
        } else {
            waitForWal(s, (RequestAnswers.WaitForWal) o);
        }
    }

    /**
     * Asks again whenever the WAL receiver stores more WAL of the timeline, until the answer comes or the
     * wait times out (the request then gets an Error, the stream goes on).
     */
    private void waitForWal(Slot s, RequestAnswers.WaitForWal wait) {
        if (s.walFollower != null) {
            return; // already waiting: this was an answer to a wake-up that came too early
        }
        long timeoutMs = service.settings().waitLsnTimeoutMs();
        s.walTimer = loop.schedule(() -> {
            s.walTimer = null;
            if (!closed && s.response == null) {
                stopWaiting(s);
                s.response = RequestAnswers.error(s.request.header(), "timed out after " + timeoutMs
                        + " ms waiting for WAL up to " + wait.lsn() + " of timeline " + target.timeline()
                        + " (stored up to " + wait.storedEnd() + ")").response();
                pump();
            }
        }, timeoutMs, TimeUnit.MILLISECONDS);
        // The WAL receiver's events come on a Vert.x event loop: each asks again on this thread.
        s.walFollower = service.vertx().eventBus().consumer(WalReceiver.walDurableAddress(target.timeline()), m -> {
            if (!Lsn.parse(m.body()).isBefore(wait.lsn())) {
                onLoop(() -> askAgain(s));
            }
        });
        // WAL stored between our look at the store and the subscription would otherwise wait for more.
        s.walFollower.completion().onComplete(v -> onLoop(() -> askAgain(s)));
    }

    private void askAgain(Slot s) {
        if (s.response == null) {
            answer(s);
        }
    }

    private void stopWaiting(Slot s) {
        if (s.walFollower != null) {
            s.walFollower.unregister();
            s.walFollower = null;
        }
        if (s.walTimer != null) {
            s.walTimer.cancel(false);
            s.walTimer = null;
        }
    }

    /** Writes every answer at the head of the order that is ready, then whatever the session queued. */
    private void writeAnswered() {
        while (!slots.isEmpty()) {
            Slot s = slots.peek();
            if (s.request != null) {
                if (s.response == null) {
                    break;
                }
                session.respond(s.response);
            } else if (s.isStreamEnd()) {
                session.endStreaming();
            } else {
                session.sendFailure(s.failure);
                write();
                close();
                return;
            }
            slots.poll();
        }
        write();
    }

    private void write() {
        if (!closed && session.hasOutbound()) {
            // One copy, into a direct buffer the socket writes from (a heap buffer is copied into one anyway); a
            // stored page is decompressed straight into it. Written once drained: a write may call pump() again at
            // once (writability), which answers into the session.
            ByteBuf filled = outBuffer(session.outboundBytes());
            try {
                drainInto(filled);
            } catch (RuntimeException bug) {
                // a stored page that does not decode (its CRC-32C matched when read): no answer is better than a wrong one
                LOG.log(Level.WARNING, "page connection: writing its answers failed; closing it", bug);
                if (filled != out) {
                    filled.release();
                }
                close();
                return;
            }
            channel.writeAndFlush(filled == out ? out.retain() : filled, channel.voidPromise());
        }
    }

    /** What the session holds, into {@code filled}: a page written later is decoded in place. */
    private void drainInto(ByteBuf filled) {
        session.drainOutbound(new ByteWriter.Sink() {
            @Override
            public void write(byte[] b, int off, int n) {
                filled.writeBytes(b, off, n);
            }

            @Override
            public void later(int length, ByteWriter.Filler filler) {
                filled.ensureWritable(length);
                int at = filled.writerIndex();
                ByteWriter.fillExactly(filled.internalNioBuffer(at, length), length, filler);
                filled.writerIndex(at + length);
            }
        });
    }

    /**
     * An empty direct buffer with room for {@code n} bytes: the connection's own when the socket is done with it.
     * Taking one from the channel's allocator for every answer and giving it back cost more than a tenth of the
     * I/O thread's time; the socket has almost always written the last one out (and released its hold) by the
     * next answer. Only this thread writes and releases it: the reference count tells whether the socket still
     * holds it. One for a big pipelined batch is not kept (500 idle streams hold 500 small ones).
     */
    private ByteBuf outBuffer(int n) {
        if (out != null && out.refCnt() == 1 && out.capacity() >= n) {
            return out.clear();
        }
        ByteBuf b = channel.alloc().directBuffer(Math.max(n, KEPT_OUT_MIN_BYTES));
        if (n <= KEPT_OUT_MAX_BYTES) {
            releaseOut(); // one still being written goes when the socket is done with it
            out = b;
        }
        return b;
    }

    private void releaseOut() {
        if (out != null) {
            out.release();
            out = null;
        }
    }

    /** Ends the connection at once with a FATAL error (shutdown, storage detached); from any thread. */
    void fatal(String sqlState, String message) {
        EventLoop l = loop;
        if (l == null) {
            closed = true; // still moving to its I/O thread: the move closes it
            return;
        }
        l.execute(() -> {
            if (closed) {
                return;
            }
            session.drainOutbound();
            session.sendFailure(session.fail(sqlState, message));
            write();
            close();
        });
    }

    private void close() {
        if (!closed && channel != null) {
            channel.close();
        }
        closed();
    }

    private void closed() {
        closed = true; // fatal() before the move sets it too: the rest is done here, once or again
        EventLoop l = loop;
        if (l != null && l.inEventLoop()) {
            releaseOut(); // before the move there is none; after it, the channel's ends come on its I/O thread
        }
        slots.forEach(this::stopWaiting);
        slots.clear();
        service.forget(this);
    }
}
