package dev.zenith.server.testing;

import dev.zenith.protocol.auth.ScramClient;

import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/**
 * An independent page-service client for tests: every PostgreSQL and pagestream message written and
 * read here byte by byte from the protocol documentation and Neon's pagestream_api.rs, not with our
 * codecs. Only the SCRAM proofs come from the protocol module (authentication is not under test here).
 */
public final class RawPageClient implements AutoCloseable {
    public static final long LATEST = -1L;

    public final Socket socket;
    public final DataInputStream in;
    public final OutputStream out;

    /** One backend message: its type byte and body. */
    public record Msg(char type, byte[] body) {
        public ByteBuffer buf() {
            return ByteBuffer.wrap(body);
        }

        public String text() {
            return new String(body, StandardCharsets.UTF_8);
        }

        /** The 'M' field of an ErrorResponse. */
        public String errorMessage() {
            return field('M');
        }

        public String field(char code) {
            int i = 0;
            while (i < body.length && body[i] != 0) {
                int end = i + 1;
                while (body[end] != 0) {
                    end++;
                }
                if (body[i] == code) {
                    return new String(body, i + 1, end - i - 1, StandardCharsets.UTF_8);
                }
                i = end + 1;
            }
            return null;
        }
    }

    public RawPageClient(int port) throws IOException {
        this(port, 0);
    }

    /** {@code receiveBuffer}: SO_RCVBUF to ask for before connecting (0: the system's). */
    public RawPageClient(int port, int receiveBuffer) throws IOException {
        socket = new Socket();
        if (receiveBuffer > 0) {
            socket.setReceiveBufferSize(receiveBuffer);
        }
        socket.connect(new InetSocketAddress("127.0.0.1", port), 10_000);
        socket.setTcpNoDelay(true);
        socket.setSoTimeout(120_000);
        in = new DataInputStream(new java.io.BufferedInputStream(socket.getInputStream(), 64 * 1024));
        out = socket.getOutputStream();
    }

    /** Connects and logs in (StartupMessage, SCRAM-SHA-256), up to ReadyForQuery. */
    public static RawPageClient login(int port, String user, String password) throws IOException {
        return login(new RawPageClient(port), user, password);
    }

    public static RawPageClient login(RawPageClient c, String user, String password) throws IOException {
        c.startup(user);
        Msg m = c.read();
        expect(m, 'R');
        if (m.buf().getInt() != 10) {
            throw new IOException("expected AuthenticationSASL");
        }
        ScramClient scram = new ScramClient(password);
        byte[] first = scram.clientFirstMessage();
        byte[] mech = "SCRAM-SHA-256\0".getBytes(StandardCharsets.US_ASCII);
        c.send('p', ByteBuffer.allocate(mech.length + 4 + first.length).put(mech).putInt(first.length).put(first).array());
        m = c.read();
        expect(m, 'R');
        ByteBuffer b = m.buf();
        if (b.getInt() != 11) {
            throw new IOException("expected AuthenticationSASLContinue");
        }
        byte[] serverFirst = new byte[b.remaining()];
        b.get(serverFirst);
        c.send('p', scram.clientFinalMessage(serverFirst));
        m = c.read();
        expect(m, 'R');
        b = m.buf();
        if (b.getInt() != 12) {
            throw new IOException("expected AuthenticationSASLFinal, got " + m);
        }
        byte[] serverFinal = new byte[b.remaining()];
        b.get(serverFinal);
        scram.verifyServerFinal(serverFinal);
        while ((m = c.read()).type() != 'Z') {
            if (m.type() == 'E') {
                throw new IOException("login failed: " + m.errorMessage());
            }
        }
        return c;
    }

    public void startup(String user) throws IOException {
        byte[] params = ("user\0" + user + "\0database\0postgres\0application_name\0raw-page-client\0\0")
                .getBytes(StandardCharsets.UTF_8);
        out.write(ByteBuffer.allocate(8 + params.length).putInt(8 + params.length).putInt(196608).put(params).array());
        out.flush();
    }

    public static void expect(Msg m, char type) throws IOException {
        if (m.type() != type) {
            throw new IOException("expected '" + type + "', got '" + m.type() + "' " + (m.type() == 'E' ? m.errorMessage() : ""));
        }
    }

    /** One typed message. */
    public void send(char type, byte[] body) throws IOException {
        out.write(frame(type, body));
        out.flush();
    }

    public static byte[] frame(char type, byte[] body) {
        return ByteBuffer.allocate(5 + body.length).put((byte) type).putInt(4 + body.length).put(body).array();
    }

    public void query(String sql) throws IOException {
        send('Q', (sql + "\0").getBytes(StandardCharsets.UTF_8));
    }

    /** pagestream_v3/v2 tenant timeline, expecting CopyBothResponse exactly as 'W' int32 7 int8 0 int16 0. */
    public void openStream(String version, String tenant, String timeline) throws IOException {
        query("pagestream_" + version + " " + tenant + " " + timeline);
        byte[] head = new byte[8];
        in.readFully(head);
        if (head[0] == 'E') {
            throw new IOException("stream refused: " + readRest(head));
        }
        if (!java.util.Arrays.equals(head, new byte[] {'W', 0, 0, 0, 7, 0, 0, 0})) {
            throw new IOException("not a CopyBothResponse: " + java.util.Arrays.toString(head));
        }
    }

    private String readRest(byte[] head) throws IOException {
        int len = ByteBuffer.wrap(head, 1, 4).getInt();
        byte[] body = new byte[len - 4];
        System.arraycopy(head, 5, body, 0, 3);
        in.readFully(body, 3, body.length - 3);
        return new Msg('E', body).errorMessage();
    }

    public Msg read() throws IOException {
        int type = in.read();
        if (type < 0) {
            throw new EOFException("connection closed");
        }
        int len = in.readInt();
        byte[] body = new byte[len - 4];
        in.readFully(body);
        return new Msg((char) type, body);
    }

    /** The payload of the next CopyData (anything else is an IOException naming it). */
    public ByteBuffer copyData() throws IOException {
        Msg m = read();
        expect(m, 'd');
        return m.buf();
    }

    /** v3 request header: tag, reqid, request_lsn, not_modified_since. */
    public static ByteBuffer v3(int tag, long reqid, long lsn, long nms, int extra) {
        return ByteBuffer.allocate(25 + extra).put((byte) tag).putLong(reqid).putLong(lsn).putLong(nms);
    }

    public static ByteBuffer v2(int tag, long lsn, long nms, int extra) {
        return ByteBuffer.allocate(17 + extra).put((byte) tag).putLong(lsn).putLong(nms);
    }

    public static byte[] getPageV3(long reqid, long lsn, long nms, int spc, int db, int rel, int fork, int blk) {
        return v3(2, reqid, lsn, nms, 17).putInt(spc).putInt(db).putInt(rel).put((byte) fork).putInt(blk).array();
    }

    public void sendCopy(byte[] payload) throws IOException {
        send('d', payload);
    }

    /** Reads a v3 response's echoed header and checks it: tag, reqid. Returns the buffer after the header. */
    public static ByteBuffer v3Answer(ByteBuffer b, int tag, long reqid) throws IOException {
        int got = b.get() & 0xFF;
        long id = b.getLong();
        b.getLong();
        b.getLong();
        if (got != tag || id != reqid) {
            String why = got == 103 ? ": " + cstring(b) : "";
            throw new IOException("expected tag " + tag + " for reqid " + reqid + ", got tag " + got + " reqid " + id + why);
        }
        return b;
    }

    public static String cstring(ByteBuffer b) {
        int start = b.position();
        int end = start;
        while (b.get(end) != 0) {
            end++;
        }
        b.position(end + 1);
        return new String(b.array(), start, end - start, StandardCharsets.UTF_8);
    }

    /** True when the server closed the connection (EOF or reset), reading whatever it still sent. */
    public boolean closedByServer() {
        try {
            while (in.read() >= 0) {
                // drain
            }
            return true;
        } catch (IOException e) {
            return true;
        }
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }
}
