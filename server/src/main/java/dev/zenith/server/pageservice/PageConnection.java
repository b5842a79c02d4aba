package dev.zenith.server.pageservice;

import dev.zenith.protocol.pagestream.PagestreamRequest;
import dev.zenith.protocol.pagestream.PagestreamResponse;
import dev.zenith.protocol.server.PageServiceEvent;
import dev.zenith.protocol.server.PageServiceSession;
import dev.zenith.protocol.wire.ErrorFields;
import dev.zenith.server.ingest.WalReceiver;
import dev.zenith.storage.Store;
import dev.zenith.wal.Lsn;
import io.vertx.core.Context;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.net.NetSocket;

import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * One page connection: glues {@link PageServiceSession} to the socket and the worker pool. It runs on
 * its event loop; each request is answered on a worker thread, and answers are written in request
 * order as soon as the oldest is ready, so a client may send many requests before it reads. While
 * {@code max_pipelined_requests} requests are in progress or the socket's write queue is full, it
 * stops decoding and pauses the socket: a slow reader holds the client back instead of making us
 * buffer its answers.
 */
final class PageConnection {
    private static final Logger LOG = Logger.getLogger(PageConnection.class.getName());
    /** Room for many answers on the way out before we stop taking requests (an answer is 8 KiB). */
    private static final int WRITE_QUEUE_BYTES = 1 << 20;
    /** Requests per worker task at most, so one connection's burst does not hold a worker for long. */
    private static final int BATCH = 64;

    private final PageService service;
    private final NetSocket socket;
    private final PageServiceSession session;
    private final Context context;
    /** Requests in progress or answered but not yet written, and stream ends and failures, in client order. */
    private final ArrayDeque<Slot> slots = new ArrayDeque<>();
    private PageTarget target;
    private boolean paused;
    private boolean closed;

    /** One place in the order of what the client sent. */
    private static final class Slot {
        final PagestreamRequest request;
        final PageServiceEvent.Failed failure;
        PagestreamResponse response;
        MessageConsumer<String> walFollower;
        long walTimer = -1;

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
        this.context = service.vertx().getOrCreateContext();
    }

    void start() {
        socket.setWriteQueueMaxSize(WRITE_QUEUE_BYTES);
        socket.handler(this::received);
        socket.drainHandler(v -> pump());
        socket.closeHandler(v -> closed());
        socket.exceptionHandler(e -> LOG.log(Level.FINE, "page connection error", e));
        socket.resume(); // the login may have paused it (a throttled answer); what it holds comes to us now
        pump(); // the client may have sent its command with its password
    }

    boolean reads(Store store) {
        PageTarget t = target;
        return t != null && t.store() == store;
    }

    private void received(Buffer data) {
        session.feed(ByteBuffer.wrap(data.getBytes()));
        pump();
    }

    /**
     * Decodes and dispatches what the client sent while there is room, writes what is answered in order.
     * The requests decoded in one go are answered by one worker task (up to {@link #BATCH} each): a
     * pipelining client costs one thread hand-over per batch, not per request.
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
        // The flag first: resume() hands over what arrived meanwhile at once, and so calls us again.
        boolean busy = busy();
        if (busy && !paused) {
            paused = true;
            socket.pause();
        } else if (!busy && paused) {
            paused = false;
            socket.resume();
        }
    }

    /** Decodes and dispatches while there is room; whether anything was decoded. */
    private boolean decode() {
        boolean any = false;
        List<Slot> batch = new ArrayList<>();
        while (!closed && !busy()) {
            PageServiceEvent e = session.next();
            if (e == null) {
                break;
            }
            any = true;
            if (e instanceof PageServiceEvent.Request r) {
                Slot s = new Slot(r.request(), null);
                slots.add(s);
                batch.add(s);
                if (batch.size() == BATCH) {
                    answer(batch);
                    batch = new ArrayList<>();
                }
            } else {
                answer(batch);
                batch = new ArrayList<>();
                handle(e);
            }
        }
        answer(batch);
        return any;
    }

    private boolean busy() {
        return slots.size() >= service.settings().maxPipelinedRequests() || socket.writeQueueFull();
    }

    private void handle(PageServiceEvent e) {
        if (e instanceof PageServiceEvent.StreamRequested c) {
            service.blocking(() -> service.resolve(c.command())).onComplete(ar -> {
                if (closed) {
                    return;
                }
                if (ar.succeeded()) {
                    target = ar.result();
                    session.startStreaming(c.command().version());
                } else {
                    Throwable t = ar.cause();
                    session.refuse(ErrorFields.of("ERROR", "3D000", t instanceof PageService.UnknownTargetException
                            ? t.getMessage() : "cannot open the page stream: " + t));
                }
                pump();
            });
        } else if (e instanceof PageServiceEvent.StreamEnded) {
            slots.add(new Slot(null, null));
        } else if (e instanceof PageServiceEvent.Failed f) {
            slots.add(new Slot(null, f));
        } else if (e instanceof PageServiceEvent.Terminated) {
            close();
        }
        // QueryRefused: the session queued its answer, which writeAnswered sends.
    }

    /** Answers the requests on a worker thread, in one task. */
    private void answer(List<Slot> batch) {
        if (batch.isEmpty()) {
            return;
        }
        PageTarget t = target;
        service.blocking(() -> {
            RequestAnswers.Outcome[] outcomes = new RequestAnswers.Outcome[batch.size()];
            for (int i = 0; i < outcomes.length; i++) {
                outcomes[i] = service.answers().answer(t, batch.get(i).request);
            }
            return outcomes;
        }).onComplete(ar -> {
            if (closed) {
                return;
            }
            for (int i = 0; i < batch.size(); i++) {
                Slot s = batch.get(i);
                if (ar.failed()) {
                    LOG.log(Level.WARNING, "page service: answering " + RequestAnswers.describe(s.request) + " failed", ar.cause());
                }
                outcome(s, ar.succeeded() ? ar.result()[i] : RequestAnswers.error(s.request.header(), "internal error: " + ar.cause()));
            }
            pump();
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
            // A redo run makes the page on its own threads; the answer comes back to this event loop.
            later.answer().thenAccept(a -> context.runOnContext(v -> {
                if (!closed) {
                    outcome(s, a);
                    pump();
                }
            }));
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
        s.walTimer = service.vertx().setTimer(timeoutMs, id -> {
            s.walTimer = -1;
            if (!closed && s.response == null) {
                stopWaiting(s);
                s.response = RequestAnswers.error(s.request.header(), "timed out after " + timeoutMs
                        + " ms waiting for WAL up to " + wait.lsn() + " of timeline " + target.timeline()
                        + " (stored up to " + wait.storedEnd() + ")").response();
                pump();
            }
        });
        s.walFollower = service.vertx().eventBus().consumer(WalReceiver.walDurableAddress(target.timeline()), m -> {
            if (!Lsn.parse(m.body()).isBefore(wait.lsn())) {
                answer(List.of(s));
            }
        });
        // WAL stored between our look at the store and the subscription would otherwise wait for more.
        s.walFollower.completion().onComplete(v -> answer(List.of(s)));
    }

    private void stopWaiting(Slot s) {
        if (s.walFollower != null) {
            s.walFollower.unregister();
            s.walFollower = null;
        }
        if (s.walTimer >= 0) {
            service.vertx().cancelTimer(s.walTimer);
            s.walTimer = -1;
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
            socket.write(Buffer.buffer(session.drainOutbound()));
        }
    }

    /** Ends the connection at once with a FATAL error (shutdown, storage detached); from any thread. */
    void fatal(String sqlState, String message) {
        context.runOnContext(v -> {
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
        if (!closed) {
            socket.close();
        }
        closed();
    }

    private void closed() {
        if (closed) {
            return;
        }
        closed = true;
        slots.forEach(this::stopWaiting);
        slots.clear();
        service.forget(this);
    }
}
