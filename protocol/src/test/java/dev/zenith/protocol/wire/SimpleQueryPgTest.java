package dev.zenith.protocol.wire;

import dev.zenith.protocol.wire.BackendMessage.*;
import dev.zenith.testkit.PgCluster;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/** Our codecs against the bytes a real PostgreSQL 15 sends, fed one byte at a time. */
@Tag("pg")
class SimpleQueryPgTest {
    static PgCluster pg;

    @BeforeAll
    static void start() throws IOException {
        pg = PgCluster.initdb();
        pg.start();
    }

    @AfterAll
    static void stop() {
        pg.close();
    }

    /** Test-only blocking connection: frontend encoder out, backend decoder in (one byte per feed). */
    static final class Conn implements AutoCloseable {
        final Socket s;
        final InputStream in;
        final OutputStream out;
        final BackendDecoder dec = new BackendDecoder();

        Conn() throws IOException {
            s = new Socket("127.0.0.1", pg.port());
            s.setSoTimeout(60_000);
            in = s.getInputStream();
            out = s.getOutputStream();
        }

        void send(FrontendMessage... m) throws IOException {
            out.write(FrontendEncoder.encode(m));
            out.flush();
        }

        BackendMessage next() throws IOException {
            while (true) {
                BackendMessage m = dec.poll();
                if (m != null) {
                    return m;
                }
                int b = in.read();
                if (b < 0) {
                    throw new AssertionError("closed");
                }
                dec.feed(new byte[] {(byte) b});
            }
        }

        /** Everything up to and including ReadyForQuery. */
        List<BackendMessage> untilReady() throws IOException {
            List<BackendMessage> l = new ArrayList<>();
            BackendMessage m;
            do {
                m = next();
                l.add(m);
            } while (!(m instanceof ReadyForQuery));
            return l;
        }

        @Override
        public void close() throws IOException {
            s.close();
        }
    }

    @Test
    void startupResultsErrorsAndCopy() throws IOException {
        try (Conn c = new Conn()) {
            c.send(FrontendMessage.StartupMessage.of(Map.of("user", "postgres", "database", "postgres")));
            List<BackendMessage> hello = c.untilReady();
            assertInstanceOf(AuthenticationOk.class, hello.get(0));
            assertTrue(hello.contains(new ParameterStatus("server_encoding", "UTF8")), hello.toString());
            assertTrue(hello.stream().anyMatch(m -> m instanceof BackendKeyData));
            assertEquals(new ReadyForQuery('I'), hello.get(hello.size() - 1));

            c.send(new FrontendMessage.Query("SELECT 1 AS a, NULL::text AS b, 'héllo'::text AS c"));
            List<BackendMessage> r = c.untilReady();
            RowDescription rd = (RowDescription) r.get(0);
            assertEquals(List.of("a", "b", "c"), rd.fields().stream().map(Field::name).toList());
            assertEquals(23, rd.fields().get(0).typeOid());
            DataRow row = (DataRow) r.get(1);
            assertEquals("1", row.text(0));
            assertNull(row.text(1));
            assertEquals("héllo", row.text(2));
            assertEquals(new CommandComplete("SELECT 1"), r.get(2));

            c.send(new FrontendMessage.Query(""));
            assertEquals(List.of(new EmptyQueryResponse(), new ReadyForQuery('I')), c.untilReady());

            c.send(new FrontendMessage.Query("SELECT 1/0"));
            ErrorResponse err = (ErrorResponse) c.untilReady().get(0);
            assertEquals("ERROR", err.fields().severity());
            assertEquals("22012", err.fields().code());
            assertEquals("division by zero", err.fields().message());
            assertNotNull(err.fields().routine());
            assertNotNull(err.fields().get(ErrorFields.FILE));

            c.send(new FrontendMessage.Query("SELECT * FROM nosuch"));
            ErrorResponse err2 = (ErrorResponse) c.untilReady().get(0);
            assertEquals("42P01", err2.fields().code());
            assertEquals("15", err2.fields().position());

            c.send(new FrontendMessage.Query("DO $$BEGIN RAISE NOTICE 'n1' USING DETAIL = 'd1', HINT = 'h1'; END$$"));
            NoticeResponse n = (NoticeResponse) c.untilReady().get(0);
            assertEquals("NOTICE", n.fields().severity());
            assertEquals("n1", n.fields().message());
            assertEquals("d1", n.fields().detail());
            assertEquals("h1", n.fields().hint());

            c.send(new FrontendMessage.Query("CREATE TABLE t(x int, y text)"));
            c.untilReady();
            c.send(new FrontendMessage.Query("COPY t FROM STDIN"));
            CopyInResponse in = (CopyInResponse) c.next();
            assertEquals(2, in.columnFormats().size());
            c.send(new FrontendMessage.CopyData("1\tone\n2\ttwo\n".getBytes()), new FrontendMessage.CopyDone());
            assertEquals(List.of(new CommandComplete("COPY 2"), new ReadyForQuery('I')), c.untilReady());

            c.send(new FrontendMessage.Query("COPY t FROM STDIN"));
            assertInstanceOf(CopyInResponse.class, c.next());
            c.send(new FrontendMessage.CopyFail("client gave up"));
            ErrorResponse copyFail = (ErrorResponse) c.untilReady().get(0);
            assertEquals("57014", copyFail.fields().code());

            c.send(new FrontendMessage.Query("COPY t TO STDOUT"));
            List<BackendMessage> out = c.untilReady();
            assertInstanceOf(CopyOutResponse.class, out.get(0));
            assertEquals("1\tone\n", new String(((BackendMessage.CopyData) out.get(1)).data()));
            assertEquals("2\ttwo\n", new String(((BackendMessage.CopyData) out.get(2)).data()));
            assertInstanceOf(BackendMessage.CopyDone.class, out.get(3));
            assertEquals(new CommandComplete("COPY 2"), out.get(4));

            c.send(new FrontendMessage.Query("BEGIN"));
            assertEquals(new ReadyForQuery('T'), c.untilReady().get(1));
            c.send(new FrontendMessage.Query("SELECT x FROM nosuch"));
            assertEquals(new ReadyForQuery('E'), c.untilReady().get(1));
            c.send(new FrontendMessage.Terminate());
        }
    }
}
