package dev.zenith.protocol.server;

import dev.zenith.protocol.auth.ScramClient;
import dev.zenith.protocol.auth.ScramVerifier;
import dev.zenith.protocol.server.ServerEvent.*;
import dev.zenith.protocol.wire.BackendDecoder;
import dev.zenith.protocol.wire.BackendMessage;
import dev.zenith.protocol.wire.BackendMessage.*;
import dev.zenith.protocol.wire.FrontendEncoder;
import dev.zenith.protocol.wire.FrontendMessage;
import dev.zenith.protocol.wire.FrontendMessage.*;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.*;

/** Edges of {@link ServerHandshake}; the happy paths are proven with real psql/pg_receivewal/pg_basebackup. */
class ServerHandshakeTest {
    static final ScramVerifier V = ScramVerifier.generate("pw");

    static ServerHandshake scram() {
        return new ServerHandshake(new ServerHandshake.Config(u -> u.equals("zen") ? Optional.of(V) : Optional.empty(),
                ServerHandshake.defaultParameters("15.0"), 1, 2));
    }

    static List<BackendMessage> replies(ServerHandshake h) {
        BackendDecoder d = new BackendDecoder();
        d.feed(h.drainOutbound());
        List<BackendMessage> l = new ArrayList<>();
        BackendMessage m;
        while ((m = d.poll()) != null) {
            l.add(m);
        }
        return l;
    }

    static List<ServerEvent> events(ServerHandshake h) {
        List<ServerEvent> l = new ArrayList<>();
        ServerEvent e;
        while ((e = h.poll()) != null) {
            l.add(e);
        }
        return l;
    }

    @Test
    void fullScramExchangeOneByteAtATime() {
        ServerHandshake h = scram();
        ScramClient c = new ScramClient("pw");
        byte[] in = FrontendEncoder.encode(StartupMessage.of(Map.of("user", "zen", "database", "db",
                "replication", "database", "application_name", "app")));
        for (byte b : in) {
            h.feed(new byte[] {b});
        }
        AuthenticationSASL sasl = (AuthenticationSASL) replies(h).get(0);
        assertEquals(List.of("SCRAM-SHA-256"), sasl.mechanisms());
        h.feed(FrontendEncoder.encode(new SASLInitialResponse("SCRAM-SHA-256", c.clientFirstMessage())));
        AuthenticationSASLContinue cont = (AuthenticationSASLContinue) replies(h).get(0);
        // the final message and a query pipelined behind it: the query must stay in the decoder
        h.feed(FrontendEncoder.encode(new SASLResponse(c.clientFinalMessage(cont.data())), new Query("IDENTIFY_SYSTEM")));
        List<BackendMessage> r = replies(h);
        c.verifyServerFinal(((AuthenticationSASLFinal) r.get(0)).data());
        assertInstanceOf(AuthenticationOk.class, r.get(1));
        assertTrue(r.contains(new ParameterStatus("application_name", "app")));
        assertTrue(r.contains(new ParameterStatus("session_authorization", "zen")));
        assertTrue(r.contains(new BackendKeyData(1, 2)));
        assertEquals(new ReadyForQuery('I'), r.get(r.size() - 1));
        List<ServerEvent> ev = events(h);
        assertEquals(new Ready("zen", "db", ServerHandshake.ReplicationMode.LOGICAL), ev.get(ev.size() - 1));
        assertEquals(new Query("IDENTIFY_SYSTEM"), h.decoder().poll());
    }

    @Test
    void sslAndGssRequestsAreDeclinedThenStartupProceeds() {
        ServerHandshake h = new ServerHandshake(new ServerHandshake.Config(null, Map.of("server_version", "15.0"), 1, 2));
        h.feed(FrontendEncoder.encode(new GSSENCRequest(), new SSLRequest()));
        assertArrayEquals(new byte[] {'N', 'N'}, h.drainOutbound());
        h.feed(FrontendEncoder.encode(StartupMessage.of(Map.of("user", "u", "replication", "true"))));
        List<BackendMessage> r = replies(h);
        assertInstanceOf(AuthenticationOk.class, r.get(0), "trust mode asks for no password");
        List<ServerEvent> ev = events(h);
        assertEquals(new EncryptionDeclined("GSSENC"), ev.get(0));
        assertEquals(new EncryptionDeclined("SSL"), ev.get(1));
        assertEquals(new Ready("u", null, ServerHandshake.ReplicationMode.PHYSICAL), ev.get(ev.size() - 1));
    }

    @Test
    void cancelRequestEndsTheHandshake() {
        ServerHandshake h = scram();
        h.feed(FrontendEncoder.encode(new CancelRequest(5, 6)));
        assertEquals(List.of(new CancelRequested(5, 6)), events(h));
        assertEquals(ServerHandshake.State.CANCELLED, h.state());
        assertEquals(0, h.drainOutbound().length);
    }

    @Test
    void failuresSendFatalErrors() {
        ServerHandshake bad = scram();
        bad.feed(FrontendEncoder.encode(StartupMessage.of(Map.of("user", "zen", "replication", "maybe"))));
        ErrorResponse e = (ErrorResponse) replies(bad).get(0);
        assertEquals("FATAL", e.fields().severity());
        assertEquals("22023", e.fields().code());
        assertEquals(ServerHandshake.State.FAILED, bad.state());

        ServerHandshake early = scram();
        early.feed(FrontendEncoder.encode(StartupMessage.of(Map.of("user", "zen")), new Query("SELECT 1")));
        List<BackendMessage> r = replies(early);
        assertEquals("08P01", ((ErrorResponse) r.get(r.size() - 1)).fields().code());

        ServerHandshake mech = scram();
        mech.feed(FrontendEncoder.encode(StartupMessage.of(Map.of("user", "zen")),
                new SASLInitialResponse("SCRAM-SHA-256-PLUS", "p=tls-server-end-point,,n=,r=x".getBytes())));
        r = replies(mech);
        assertTrue(((ErrorResponse) r.get(r.size() - 1)).fields().message().contains("invalid SASL authentication mechanism"));

        ServerHandshake ext = scram();
        ext.feed(FrontendEncoder.encode(StartupMessage.of(Map.of("user", "zen"))));
        ext.feed(new byte[] {'P', 0, 0, 0, 4});
        r = replies(ext);
        ErrorResponse unsupported = (ErrorResponse) r.get(r.size() - 1);
        assertEquals("0A000", unsupported.fields().code());
        assertTrue(unsupported.fields().message().contains("extended query protocol"));
        assertInstanceOf(Failed.class, events(ext).get(1));
    }
}
