package dev.zenith.server.testing;

import dev.zenith.protocol.auth.ClientAuthentication;
import dev.zenith.protocol.pagestream.PagestreamDecoder;
import dev.zenith.protocol.pagestream.PagestreamEncoder;
import dev.zenith.protocol.pagestream.PagestreamRequest;
import dev.zenith.protocol.pagestream.PagestreamResponse;
import dev.zenith.protocol.pagestream.PagestreamVersion;
import dev.zenith.protocol.wire.BackendDecoder;
import dev.zenith.protocol.wire.BackendMessage;
import dev.zenith.protocol.wire.FrontendEncoder;
import dev.zenith.protocol.wire.FrontendMessage;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.net.NetClient;
import io.vertx.core.net.NetSocket;

import java.util.ArrayDeque;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;

/**
 * A non-blocking page-service client on a Vert.x socket, for tests of what happens over time (waits for
 * WAL, pipelining): each request's answer is a Future, completed in request order. Uses our codecs.
 * A request may be sent from any thread. When the connection ends or the server sends something other than
 * an answer while streaming, every request still waiting fails with what happened (a test then fails with
 * the reason instead of waiting out its timeout).
 *
 * <p>It holds its {@link NetClient}: Vert.x closes a client, and every connection it made, once the client is
 * garbage (its Cleaner). A client dropped after connecting lost its stream at the first GC that came, and a
 * test then waited minutes for answers that could not come (LatestReadsUnderWritesTest hung so).
 */
public final class AsyncPageClient {
    private final NetClient client;
    private final NetSocket socket;
    private final BackendDecoder decoder = new BackendDecoder();
    private final ArrayDeque<Promise<BackendMessage>> messages = new ArrayDeque<>();
    private final ArrayDeque<BackendMessage> unread = new ArrayDeque<>();
    /** Added by the sending thread, taken on the socket's event loop. */
    private final ConcurrentLinkedQueue<Pending> requests = new ConcurrentLinkedQueue<>();
    private volatile PagestreamVersion version;
    /** Why the stream cannot answer any more (set on the event loop); requests sent after it fail at once. */
    private volatile String broken;

    private record Pending(PagestreamRequest request, Promise<PagestreamResponse> answer) {
    }

    private AsyncPageClient(NetClient client, NetSocket socket) {
        this.client = client;
        this.socket = socket;
        socket.handler(this::received);
        socket.closeHandler(v -> broken("the connection closed"));
        socket.exceptionHandler(e -> broken("connection error: " + e));
    }

    public static Future<AsyncPageClient> connect(Vertx vertx, int port, String user, String password) {
        NetClient client = vertx.createNetClient();
        return client.connect(port, "127.0.0.1").compose(s -> {
            AsyncPageClient c = new AsyncPageClient(client, s);
            return c.login(user, password).map(c);
        }).onFailure(e -> client.close());
    }

    private void received(Buffer b) {
        decoder.feed(b.getBytes());
        for (BackendMessage m = decoder.poll(); m != null; m = decoder.poll()) {
            if (version != null && m instanceof BackendMessage.CopyData d) {
                Pending p = requests.poll();
                if (p == null) {
                    broken("the server sent an answer to no request");
                    continue;
                }
                try {
                    p.answer().complete(PagestreamDecoder.response(d.data(), version, p.request()));
                } catch (RuntimeException e) {
                    p.answer().fail(e);
                }
            } else if (version != null) {
                broken("the server sent " + m + " instead of an answer");
            } else if (!messages.isEmpty()) {
                messages.poll().complete(m);
            } else {
                unread.add(m);
            }
        }
    }

    /** On the event loop: fails every request and login step still waiting, and every request sent from now on. */
    private void broken(String why) {
        if (broken == null) {
            broken = why;
        }
        failRequests();
        for (Promise<BackendMessage> p = messages.poll(); p != null; p = messages.poll()) {
            p.tryFail(broken);
        }
    }

    private void failRequests() {
        for (Pending p = requests.poll(); p != null; p = requests.poll()) {
            p.answer().tryFail(broken);
        }
    }

    private Future<BackendMessage> next() {
        if (!unread.isEmpty()) {
            return Future.succeededFuture(unread.poll());
        }
        Promise<BackendMessage> p = Promise.promise();
        messages.add(p);
        return p.future();
    }

    private Future<Void> login(String user, String password) {
        socket.write(Buffer.buffer(FrontendEncoder.encode(FrontendMessage.StartupMessage.of(Map.of("user", user)))));
        return authenticate(new ClientAuthentication(user, password));
    }

    private Future<Void> authenticate(ClientAuthentication auth) {
        return next().compose(m -> {
            if (m instanceof BackendMessage.Authentication a) {
                auth.handle(a).ifPresent(reply -> socket.write(Buffer.buffer(FrontendEncoder.encode(reply))));
                return authenticate(auth);
            }
            if (m instanceof BackendMessage.ErrorResponse e) {
                return Future.failedFuture(e.fields().message());
            }
            return m instanceof BackendMessage.ReadyForQuery ? Future.succeededFuture() : authenticate(auth);
        });
    }

    public Future<Void> openStream(PagestreamVersion v, String tenant, String timeline) {
        socket.write(Buffer.buffer(FrontendEncoder.encode(new FrontendMessage.Query(v.command() + " " + tenant + " " + timeline))));
        return next().compose(m -> {
            if (!(m instanceof BackendMessage.CopyBothResponse)) {
                return Future.failedFuture("expected CopyBothResponse, got " + m);
            }
            version = v;
            return Future.succeededFuture();
        });
    }

    /** Sends the request now; the answer comes after every earlier one. */
    public Future<PagestreamResponse> request(PagestreamRequest r) {
        Promise<PagestreamResponse> p = Promise.promise();
        if (broken != null) {
            p.fail(broken);
            return p.future();
        }
        requests.add(new Pending(r, p));
        if (broken != null) {
            failRequests(); // it broke while this was added: fail it too
        }
        socket.write(Buffer.buffer(FrontendEncoder.encode(new FrontendMessage.CopyData(PagestreamEncoder.request(r, version)))));
        return p.future();
    }

    public Future<Void> close() {
        return socket.close().eventually(() -> client.close());
    }
}
