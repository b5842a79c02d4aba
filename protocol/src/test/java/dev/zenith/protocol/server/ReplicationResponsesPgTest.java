package dev.zenith.protocol.server;

import dev.zenith.protocol.PgTimelines;
import dev.zenith.protocol.wire.BackendDecoder;
import dev.zenith.protocol.wire.BackendEncoder;
import dev.zenith.protocol.wire.BackendMessage;
import dev.zenith.protocol.wire.BackendMessage.*;
import dev.zenith.protocol.wire.FrontendEncoder;
import dev.zenith.protocol.wire.FrontendMessage;
import dev.zenith.testkit.PgCluster;
import dev.zenith.wal.Lsn;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/** {@link ReplicationResponses} against what a real PostgreSQL 15 walsender sends. */
@Tag("pg")
class ReplicationResponsesPgTest {
    static final class Conn implements AutoCloseable {
        final Socket s;
        final InputStream in;
        final OutputStream out;
        final BackendDecoder dec = new BackendDecoder();

        Conn(int port, Map<String, String> params) throws IOException {
            s = new Socket("127.0.0.1", port);
            s.setSoTimeout(60_000);
            in = s.getInputStream();
            out = s.getOutputStream();
            out.write(FrontendEncoder.encode(FrontendMessage.StartupMessage.of(params)));
            untilReady();
        }

        List<BackendMessage> query(String sql) throws IOException {
            out.write(FrontendEncoder.encode(new FrontendMessage.Query(sql)));
            return untilReady();
        }

        List<BackendMessage> untilReady() throws IOException {
            List<BackendMessage> l = new ArrayList<>();
            byte[] buf = new byte[8192];
            while (true) {
                BackendMessage m;
                while ((m = dec.poll()) != null) {
                    l.add(m);
                    if (m instanceof ReadyForQuery || m instanceof CopyBothResponse) {
                        return l;
                    }
                }
                int n = in.read(buf);
                if (n < 0) {
                    throw new AssertionError("closed after " + l);
                }
                dec.feed(buf, 0, n);
            }
        }

        List<BackendMessage> untilCopyDone() throws IOException {
            List<BackendMessage> l = new ArrayList<>();
            byte[] buf = new byte[8192];
            while (true) {
                BackendMessage m;
                while ((m = dec.poll()) != null) {
                    if (m instanceof BackendMessage.CopyDone) {
                        return l;
                    }
                    l.add(m);
                }
                int n = in.read(buf);
                if (n < 0) {
                    throw new AssertionError("closed");
                }
                dec.feed(buf, 0, n);
            }
        }

        @Override
        public void close() throws IOException {
            s.close();
        }
    }

    static byte[] bytes(List<? extends BackendMessage> l) {
        return BackendEncoder.encode(l.toArray(BackendMessage[]::new));
    }

    static List<BackendMessage> withoutReady(List<BackendMessage> l) {
        assertInstanceOf(ReadyForQuery.class, l.get(l.size() - 1));
        return l.subList(0, l.size() - 1);
    }

    /** Our canned replies, built from the values PostgreSQL returned, must be byte-identical to PostgreSQL's. */
    @Test
    void ourRepliesAreByteIdenticalToPostgres() throws Exception {
        try (PgCluster pg = PgCluster.initdb()) {
            pg.allowReplication().start();
            try (Conn c = new Conn(pg.port(), Map.of("user", "postgres", "replication", "true"))) {
                List<BackendMessage> id = withoutReady(c.query("IDENTIFY_SYSTEM"));
                DataRow r = (DataRow) id.get(1);
                assertArrayEquals(bytes(id), bytes(ReplicationResponses.identifySystem(r.text(0),
                        Integer.parseInt(r.text(1)), Lsn.parse(r.text(2)), null)));

                List<BackendMessage> show = withoutReady(c.query("SHOW wal_segment_size"));
                assertArrayEquals(bytes(show), bytes(ReplicationResponses.show("wal_segment_size", "16MB")));

                List<BackendMessage> create = withoutReady(c.query("CREATE_REPLICATION_SLOT s PHYSICAL RESERVE_WAL"));
                DataRow cr = (DataRow) create.get(1);
                assertArrayEquals(bytes(create), bytes(ReplicationResponses.createReplicationSlot("s",
                        Lsn.parse(cr.text(1)), null, null)));

                List<BackendMessage> read = withoutReady(c.query("READ_REPLICATION_SLOT s"));
                DataRow rr = (DataRow) read.get(1);
                assertEquals("physical", rr.text(0));
                assertArrayEquals(bytes(read), bytes(ReplicationResponses.readReplicationSlot("physical",
                        Lsn.parse(rr.text(1)), Integer.parseInt(rr.text(2)))));
                assertArrayEquals(bytes(withoutReady(c.query("READ_REPLICATION_SLOT nosuch"))),
                        bytes(ReplicationResponses.readReplicationSlot(null, null, null)));

                assertArrayEquals(bytes(withoutReady(c.query("DROP_REPLICATION_SLOT s"))),
                        bytes(ReplicationResponses.dropReplicationSlot()));
            }

            // a second timeline, for TIMELINE_HISTORY and the end-of-timeline result
            pg.psql("CREATE TABLE t AS SELECT 1 AS x");
            Lsn switchPoint = PgTimelines.promoteToTimeline2(pg);
            byte[] history = PgTimelines.history(pg).getBytes(StandardCharsets.UTF_8);
            try (Conn c = new Conn(pg.port(), Map.of("user", "postgres", "replication", "true"))) {
                assertArrayEquals(bytes(withoutReady(c.query("TIMELINE_HISTORY 2"))),
                        bytes(ReplicationResponses.timelineHistory(2, history)));

                List<BackendMessage> start = c.query("START_REPLICATION 0/1000000 TIMELINE 1");
                assertArrayEquals(bytes(start), bytes(List.of(ReplicationResponses.startStreaming())));
                List<BackendMessage> rest = c.untilCopyDone();
                c.out.write(FrontendEncoder.encode(new FrontendMessage.CopyDone()));
                List<BackendMessage> end = withoutReady(c.untilReady());
                assertArrayEquals(bytes(end), bytes(ReplicationResponses.endOfTimeline(2, switchPoint)), end.toString());
                assertFalse(rest.isEmpty());

                Lsn now = Lsn.parse(pg.psql("SELECT pg_current_wal_flush_lsn()"));
                assertInstanceOf(CopyBothResponse.class, c.query("START_REPLICATION " + now + " TIMELINE 2").get(0));
                c.out.write(FrontendEncoder.encode(new FrontendMessage.CopyDone()));
                c.untilCopyDone();
                assertArrayEquals(bytes(withoutReady(c.untilReady())), bytes(ReplicationResponses.endOfStreaming()));
            }
        }
    }
}
