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
import io.vertx.core.net.NetSocket;

import java.util.ArrayDeque;
import java.util.Map;

/**
 * A non-blocking page-service client on a Vert.x socket, for tests of what happens over time (waits for
 * WAL, pipelining): each request's answer is a Future, completed in request order. Uses our codecs.
 */
public final class AsyncPageClient {
    private final NetSocket socket;
    private final BackendDecoder decoder = new BackendDecoder();
    private final ArrayDeque<Promise<BackendMessage>> messages = new ArrayDeque<>();
    private final ArrayDeque<BackendMessage> unread = new ArrayDeque<>();
    private final ArrayDeque<Pending> requests = new ArrayDeque<>();
    private PagestreamVersion version;

    private record Pending(PagestreamRequest request, Promise<PagestreamResponse> answer) {
    }

    private AsyncPageClient(NetSocket socket) {
        this.socket = socket;
        socket.handler(this::received);
    }

    public static Future<AsyncPageClient> connect(Vertx vertx, int port, String user, String password) {
        return vertx.createNetClient().connect(port, "127.0.0.1").compose(s -> {
            AsyncPageClient c = new AsyncPageClient(s);
            return c.login(user, password).map(c);
        });
    }

    private void received(Buffer b) {
        decoder.feed(b.getBytes());
        for (BackendMessage m = decoder.poll(); m != null; m = decoder.poll()) {
            if (version != null && m instanceof BackendMessage.CopyData d) {
                Pending p = requests.poll();
                try {
                    p.answer().complete(PagestreamDecoder.response(d.data(), version, p.request()));
                } catch (RuntimeException e) {
                    p.answer().fail(e);
                }
            } else if (!messages.isEmpty()) {
                messages.poll().complete(m);
            } else {
                unread.add(m);
            }
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
        requests.add(new Pending(r, p));
        socket.write(Buffer.buffer(FrontendEncoder.encode(new FrontendMessage.CopyData(PagestreamEncoder.request(r, version)))));
        return p.future();
    }

    public Future<Void> close() {
        return socket.close();
    }
}
