package dev.zenith.cli.pagebench;

import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;

/**
 * The physical limit a page server on this machine is measured against: a loopback server that
 * answers each 42-byte request (a v3 GetPage's size) with 8 KiB (a page), doing nothing else. Plain
 * sockets, a thread per connection.
 */
final class EchoPeer implements AutoCloseable {
    static final int REQUEST_BYTES = 42;
    static final int REPLY_BYTES = 8192;

    private final ServerSocket server;

    EchoPeer() throws IOException {
        server = new ServerSocket(0, 128, InetAddress.getLoopbackAddress());
        Thread acceptor = new Thread(this::accept, "echo-peer");
        acceptor.setDaemon(true);
        acceptor.start();
    }

    int port() {
        return server.getLocalPort();
    }

    private void accept() {
        while (!server.isClosed()) {
            try {
                Socket s = server.accept();
                s.setTcpNoDelay(true);
                Thread t = new Thread(() -> serve(s), "echo-peer-connection");
                t.setDaemon(true);
                t.start();
            } catch (IOException e) {
                return; // closed
            }
        }
    }

    private static void serve(Socket s) {
        byte[] request = new byte[REQUEST_BYTES];
        byte[] reply = new byte[REPLY_BYTES];
        try (s; DataInputStream in = new DataInputStream(new BufferedInputStream(s.getInputStream(), 64 * 1024));
             OutputStream out = s.getOutputStream()) {
            while (true) {
                in.readFully(request);
                reply[0] = request[0];
                out.write(reply);
            }
        } catch (IOException e) {
            // the client went away
        }
    }

    /** A client connection to the echo peer: the same send/receive shape as a page stream. */
    static final class Client implements AutoCloseable {
        private final Socket socket;
        private final DataInputStream in;
        private final OutputStream out;
        private final byte[] request = new byte[REQUEST_BYTES];
        private final byte[] reply = new byte[REPLY_BYTES];

        Client(int port) throws IOException {
            socket = new Socket();
            socket.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 10_000);
            socket.setTcpNoDelay(true);
            in = new DataInputStream(new BufferedInputStream(socket.getInputStream(), 64 * 1024));
            out = socket.getOutputStream();
        }

        void send() throws IOException {
            out.write(request);
        }

        void receive() throws IOException {
            in.readFully(reply);
        }

        @Override
        public void close() throws IOException {
            socket.close();
        }
    }

    @Override
    public void close() throws IOException {
        server.close();
    }
}
