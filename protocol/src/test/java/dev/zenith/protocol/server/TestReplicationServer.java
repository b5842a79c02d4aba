package dev.zenith.protocol.server;

import dev.zenith.protocol.auth.ScramVerifier;
import dev.zenith.protocol.replication.ReplicationCommand;
import dev.zenith.protocol.replication.ReplicationCommand.*;
import dev.zenith.protocol.wire.BackendMessage;
import dev.zenith.protocol.wire.BackendMessage.*;
import dev.zenith.protocol.wire.ErrorFields;
import dev.zenith.wal.Lsn;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * Test-only blocking server: {@link ServerHandshake} for start-up, {@link ReplicationCommandParser}
 * for each Query. Answers just enough (SHOW, IDENTIFY_SYSTEM, READ/CREATE slot, one SELECT) for
 * psql, pg_receivewal and pg_basebackup to reach the command we want to capture; refuses the rest.
 */
final class TestReplicationServer implements AutoCloseable {
    record Received(String query, ReplicationCommand command, String error) {
    }

    final ServerSocket server;
    final List<ServerEvent> events = new CopyOnWriteArrayList<>();
    final List<Received> received = new CopyOnWriteArrayList<>();
    final List<Throwable> failures = new CopyOnWriteArrayList<>();
    final List<SessionEvent> sessionEvents = new CopyOnWriteArrayList<>();
    private final Map<String, ScramVerifier> users;
    private volatile byte[] segment;
    private volatile Lsn segmentStart;
    private final Thread acceptor;

    TestReplicationServer(Map<String, ScramVerifier> users) throws IOException {
        this.users = users;
        this.server = new ServerSocket(0, 10, InetAddress.getLoopbackAddress());
        this.acceptor = new Thread(this::acceptLoop, "test-repl-server");
        acceptor.setDaemon(true);
        acceptor.start();
    }

    /** Serves this WAL (one segment) to START_REPLICATION at a position inside it. */
    void serveWal(Lsn start, byte[] bytes) {
        this.segmentStart = start;
        this.segment = bytes;
    }

    int port() {
        return server.getLocalPort();
    }

    private void acceptLoop() {
        while (!server.isClosed()) {
            try {
                Socket s = server.accept();
                Thread t = new Thread(() -> serve(s), "test-repl-conn");
                t.setDaemon(true);
                t.start();
            } catch (IOException e) {
                return;
            }
        }
    }

    private void serve(Socket s) {
        try (s) {
            s.setSoTimeout(120_000);
            InputStream in = s.getInputStream();
            OutputStream out = s.getOutputStream();
            ServerHandshake hs = new ServerHandshake(new ServerHandshake.Config(
                    u -> Optional.ofNullable(users.get(u)), ServerHandshake.defaultParameters("15.0 (zenith test)"),
                    4242, 777));
            byte[] buf = new byte[4096];
            boolean ready = false;
            while (!ready) {
                int n = in.read(buf);
                if (n < 0) {
                    return;
                }
                hs.feed(buf, 0, n);
                out.write(hs.drainOutbound());
                out.flush();
                ServerEvent e;
                while ((e = hs.poll()) != null) {
                    events.add(e);
                    if (e instanceof ServerEvent.Failed || e instanceof ServerEvent.CancelRequested) {
                        return;
                    }
                    ready |= e instanceof ServerEvent.Ready;
                }
            }
            WalSenderSession session = new WalSenderSession(hs.decoder());
            while (true) {
                SessionEvent e;
                while ((e = session.poll()) != null) {
                    sessionEvents.add(e);
                    if (e instanceof SessionEvent.CommandRejected r) {
                        received.add(new Received(r.text(), null, r.error().message()));
                    } else if (e instanceof SessionEvent.CommandReceived c) {
                        received.add(new Received(c.text(), c.command(), null));
                        answer(session, c.command(), c.text(), out);
                    } else if (e instanceof SessionEvent.Terminated || e instanceof SessionEvent.Failed) {
                        out.write(session.drainOutbound());
                        return;
                    }
                }
                out.write(session.drainOutbound());
                out.flush();
                int n = in.read(buf);
                if (n < 0) {
                    return;
                }
                session.feed(buf, 0, n);
            }
        } catch (Throwable t) {
            failures.add(t);
        }
    }

    private void answer(WalSenderSession session, ReplicationCommand c, String sql, OutputStream out) throws IOException {
        List<BackendMessage> r = new ArrayList<>();
        if (c instanceof Sql) {
            r.add(new RowDescription(List.of(Field.text("greeting", 25))));
            r.add(DataRow.ofText("hello from zenith"));
            r.add(new CommandComplete("SELECT 1"));
        } else if (c instanceof Show show && show.name().equals("wal_segment_size")) {
            r.addAll(ReplicationResponses.show("wal_segment_size", "16MB"));
        } else if (c instanceof Show show && show.name().equals("data_directory_mode")) {
            r.addAll(ReplicationResponses.show("data_directory_mode", "0700"));
        } else if (c instanceof IdentifySystem) {
            r.addAll(ReplicationResponses.identifySystem("7300000000000000001", 1,
                    segment != null ? segmentStart.plus(segment.length) : Lsn.parse("0/3000000"), null));
        } else if (c instanceof ReadReplicationSlot) {
            r.addAll(ReplicationResponses.readReplicationSlot("physical", segment != null ? segmentStart : Lsn.parse("0/3000000"), 1));
        } else if (c instanceof CreateReplicationSlot cs) {
            r.addAll(ReplicationResponses.createReplicationSlot(cs.slotName(), Lsn.parse("0/3000000"), null, null));
        } else if (c instanceof StartReplication st && segment != null && !st.startLsn().isBefore(segmentStart)
                && st.startLsn().isBefore(segmentStart.plus(segment.length))) {
            session.startStreaming();
            Lsn end = segmentStart.plus(segment.length);
            for (Lsn at = st.startLsn(); at.isBefore(end); ) {
                int off = (int) at.minus(segmentStart);
                int len = Math.min(128 * 1024, segment.length - off);
                session.sendWal(at, end, java.nio.ByteBuffer.wrap(segment, off, len));
                out.write(session.drainOutbound());
                at = at.plus(len);
            }
            session.keepalive(end, true);
            out.flush();
            return;
        } else {
            session.error(ErrorFields.of("ERROR", "0A000", "test harness does not implement " + sql));
            return;
        }
        session.reply(r);
    }

    @Override
    public void close() throws IOException {
        server.close();
    }
}
