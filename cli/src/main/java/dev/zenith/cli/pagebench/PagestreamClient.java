package dev.zenith.cli.pagebench;

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

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.util.Map;
import java.util.Optional;

/**
 * A blocking page-service client on one socket: log in (StartupMessage, SCRAM), open a page stream,
 * then send requests and read their answers in order. Sending and receiving may run on two threads
 * (one each): that is how a client keeps several requests in flight.
 */
final class PagestreamClient implements AutoCloseable {
    private final Socket socket;
    private final DataInputStream in;
    private final BufferedOutputStream out;
    private PagestreamVersion version;
    /** The body of the last CopyData read (receive's only: one thread receives). */
    private byte[] frame = new byte[16 * 1024];

    private PagestreamClient(Socket socket) throws IOException {
        this.socket = socket;
        this.in = new DataInputStream(new BufferedInputStream(socket.getInputStream(), 64 * 1024));
        this.out = new BufferedOutputStream(socket.getOutputStream(), 16 * 1024);
    }

    static PagestreamClient connect(String host, int port, String user, String password) throws IOException {
        Socket s = new Socket();
        s.connect(new InetSocketAddress(host, port), 10_000);
        s.setTcpNoDelay(true);
        PagestreamClient c = new PagestreamClient(s);
        try {
            c.login(user, password);
        } catch (IOException | RuntimeException e) {
            s.close();
            throw e;
        }
        return c;
    }

    private void login(String user, String password) throws IOException {
        write(FrontendEncoder.encode(FrontendMessage.StartupMessage.of(Map.of("user", user, "database", "postgres",
                "application_name", "zenith-pagebench"))));
        ClientAuthentication auth = new ClientAuthentication(user, password);
        while (true) {
            BackendMessage m = readMessage();
            if (m instanceof BackendMessage.Authentication a) {
                Optional<FrontendMessage> reply = auth.handle(a);
                if (reply.isPresent()) {
                    write(FrontendEncoder.encode(reply.get()));
                }
            } else if (m instanceof BackendMessage.ErrorResponse e) {
                throw new IOException("login refused: " + e.fields().message());
            } else if (m instanceof BackendMessage.ReadyForQuery) {
                return;
            }
        }
    }

    /** pagestream_v3 (or v2) tenant timeline; an ErrorResponse is an IOException with its message. */
    void openStream(PagestreamVersion version, String tenantId, String timelineId) throws IOException {
        write(FrontendEncoder.encode(new FrontendMessage.Query(version.command() + " " + tenantId + " " + timelineId)));
        BackendMessage m = readMessage();
        if (m instanceof BackendMessage.ErrorResponse e) {
            throw new IOException(e.fields().message());
        }
        if (!(m instanceof BackendMessage.CopyBothResponse)) {
            throw new IOException("expected CopyBothResponse, got " + m);
        }
        this.version = version;
    }

    /** Queues one request (see {@link #flush}). */
    void send(PagestreamRequest request) throws IOException {
        out.write(FrontendEncoder.encode(new FrontendMessage.CopyData(PagestreamEncoder.request(request, version))));
    }

    void flush() throws IOException {
        out.flush();
    }

    /**
     * The answer to {@code request}, the oldest request not yet answered. A CopyData is read into this client's
     * own buffer and decoded from there: the answer's page is the only copy made of it.
     */
    PagestreamResponse receive(PagestreamRequest request) throws IOException {
        int type = readType();
        int length = readLength();
        if (type == 'd') {
            if (frame.length < length - 4) {
                frame = new byte[length - 4];
            }
            in.readFully(frame, 0, length - 4);
            return PagestreamDecoder.response(frame, 0, length - 4, version, request);
        }
        BackendMessage m = readBody(type, length);
        if (m instanceof BackendMessage.ErrorResponse e) {
            throw new IOException("the server ended the stream: " + e.fields().message());
        }
        throw new IOException("expected CopyData, got " + m);
    }

    private void write(byte[] bytes) throws IOException {
        out.write(bytes);
        out.flush();
    }

    private BackendMessage readMessage() throws IOException {
        int type = readType();
        return readBody(type, readLength());
    }

    private int readType() throws IOException {
        int type = in.read();
        if (type < 0) {
            throw new EOFException("the server closed the connection");
        }
        return type;
    }

    private int readLength() throws IOException {
        int length = in.readInt();
        if (length < 4 || length > (64 << 20)) {
            throw new IOException("invalid message length " + length);
        }
        return length;
    }

    private BackendMessage readBody(int type, int length) throws IOException {
        byte[] body = new byte[length - 4];
        in.readFully(body);
        return BackendDecoder.decode((char) type, body);
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }
}
