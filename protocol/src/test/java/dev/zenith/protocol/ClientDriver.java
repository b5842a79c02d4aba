package dev.zenith.protocol;

import dev.zenith.protocol.replication.PhysicalReplicationClient;
import dev.zenith.protocol.replication.ReplicationEvent;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;

/** Test-only: drives a {@link PhysicalReplicationClient} over a blocking socket. */
public final class ClientDriver implements AutoCloseable {
    private final Socket socket;
    private final InputStream in;
    private final OutputStream out;
    public final PhysicalReplicationClient client;
    public final List<ReplicationEvent> seen = new ArrayList<>();
    private final byte[] buf;

    public ClientDriver(int port, PhysicalReplicationClient client, int readChunk) throws IOException {
        this.socket = new Socket("127.0.0.1", port);
        // A guard against a hung test, not a timing assertion.
        this.socket.setSoTimeout(120_000);
        this.in = socket.getInputStream();
        this.out = socket.getOutputStream();
        this.client = client;
        this.buf = new byte[readChunk];
        out.write(client.startupPacket());
        out.flush();
    }

    public void write(byte[] b) throws IOException {
        out.write(b);
        out.flush();
    }

    /** Reads, feeds, writes what the client asks, until {@code stop} accepts an event; returns that event. */
    public ReplicationEvent until(Predicate<ReplicationEvent> stop) throws IOException {
        while (true) {
            ReplicationEvent e;
            while ((e = client.poll()) != null) {
                seen.add(e);
                if (stop.test(e)) {
                    flushOutbound();
                    return e;
                }
            }
            flushOutbound();
            int n;
            try {
                n = in.read(buf);
            } catch (SocketTimeoutException t) {
                throw new AssertionError("no server bytes for 120 s; state " + client.state() + ", events " + seen);
            }
            if (n < 0) {
                throw new AssertionError("server closed the connection; state " + client.state() + ", events " + seen);
            }
            client.feed(buf, 0, n);
        }
    }

    private void flushOutbound() throws IOException {
        byte[] o = client.drainOutbound();
        if (o.length > 0) {
            write(o);
        }
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }
}
