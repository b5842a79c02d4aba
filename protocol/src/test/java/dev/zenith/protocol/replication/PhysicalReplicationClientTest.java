package dev.zenith.protocol.replication;

import dev.zenith.protocol.replication.ReplicationEvent.*;
import dev.zenith.protocol.wire.BackendEncoder;
import dev.zenith.protocol.wire.BackendMessage;
import dev.zenith.protocol.wire.BackendMessage.*;
import dev.zenith.protocol.wire.FrontendDecoder;
import dev.zenith.protocol.wire.FrontendMessage;
import dev.zenith.wal.Lsn;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** State-machine edges that a healthy server never shows; the happy path is proven against PostgreSQL. */
class PhysicalReplicationClientTest {
    static PhysicalReplicationClient started() {
        PhysicalReplicationClient c = new PhysicalReplicationClient(new PhysicalReplicationClient.Config(
                "u", null, "app", "s1", Lsn.parse("0/1000000"), 1));
        byte[] startup = c.startupPacket();
        FrontendDecoder d = new FrontendDecoder();
        d.feed(startup);
        FrontendMessage.StartupMessage m = (FrontendMessage.StartupMessage) d.poll();
        assertEquals("u", m.user());
        assertEquals("true", m.replication());
        assertEquals("app", m.parameters().get("application_name"));
        return c;
    }

    static ProtocolError protocolError(PhysicalReplicationClient c) {
        ReplicationEvent e;
        while ((e = c.poll()) != null) {
            if (e instanceof ProtocolError p) {
                assertEquals(PhysicalReplicationClient.State.FAILED, c.state());
                return p;
            }
        }
        fail("no ProtocolError; state " + c.state());
        return null;
    }

    @Test
    void unexpectedMessageDuringAuthentication() {
        PhysicalReplicationClient c = started();
        c.feed(BackendEncoder.encode(new CopyDone()));
        assertTrue(protocolError(c).message().contains("unexpected CopyDone"));
    }

    @Test
    void absurdLengthFromServer() {
        PhysicalReplicationClient c = new PhysicalReplicationClient(new PhysicalReplicationClient.Config(
                "u", null, "app", null, null, 0), 1 << 20);
        c.startupPacket();
        c.feed(new byte[] {'d', 0x40, 0, 0, 0});
        ProtocolError p = protocolError(c);
        assertEquals("08P01", p.sqlState());
        assertTrue(p.message().contains("invalid length"), p.message());
        c.feed(new byte[100]); // ignored once failed
        assertNull(c.poll());
    }

    @Test
    void passwordRequestedButNoneConfigured() {
        PhysicalReplicationClient c = started();
        c.feed(BackendEncoder.encode(new AuthenticationMD5Password(new byte[] {1, 2, 3, 4})));
        assertTrue(protocolError(c).message().contains("no password was configured"));
    }

    @Test
    void malformedReplicationPayloadWhileStreaming() {
        PhysicalReplicationClient c = started();
        c.feed(BackendEncoder.encode(new AuthenticationOk(), new ReadyForQuery('I'),
                new RowDescription(List.of()), DataRow.ofText("123", "1", "0/1000000", null),
                new CommandComplete("IDENTIFY_SYSTEM"), new ReadyForQuery('I'),
                new CommandComplete("CREATE_REPLICATION_SLOT"), new ReadyForQuery('I'),
                new CopyBothResponse((byte) 0, List.of())));
        assertInstanceOf(Connected.class, c.poll());
        assertEquals(new SystemIdentified("123", 1, Lsn.parse("0/1000000"), null), c.poll());
        assertEquals(new SlotReady("s1", true, null), c.poll());
        assertEquals(new StreamingStarted(Lsn.parse("0/1000000"), 1), c.poll());
        byte[] out = c.drainOutbound();
        List<FrontendMessage.Typed> sent = new java.util.ArrayList<>();
        for (int i = 0; i < out.length; ) {
            int len = ((out[i + 1] & 0xFF) << 24) | ((out[i + 2] & 0xFF) << 16) | ((out[i + 3] & 0xFF) << 8) | (out[i + 4] & 0xFF);
            sent.add(FrontendDecoder.decodeTyped((char) out[i], java.util.Arrays.copyOfRange(out, i + 5, i + 1 + len),
                    FrontendDecoder.PasswordKind.PASSWORD));
            i += 1 + len;
        }
        assertEquals(List.of(new FrontendMessage.Query("IDENTIFY_SYSTEM"),
                new FrontendMessage.Query("CREATE_REPLICATION_SLOT s1 PHYSICAL RESERVE_WAL"),
                new FrontendMessage.Query("START_REPLICATION SLOT s1 PHYSICAL 0/1000000 TIMELINE 1")), sent);
        c.feed(BackendEncoder.encode(new CopyData(new byte[] {'w', 0, 0})));
        assertTrue(protocolError(c).message().contains("truncated dataStart"));
    }

    @Test
    void serverMustNotSendStandbyMessages() {
        PhysicalReplicationClient c = streaming();
        c.feed(BackendEncoder.encode(new CopyData(ReplicationCodec.encode(
                new ReplicationMessage.StandbyStatusUpdate(Lsn.of(1), Lsn.of(1), Lsn.of(1), 0, false)))));
        assertTrue(protocolError(c).message().contains("client-only replication message 'r'"));
    }

    @Test
    void endOfTimelineReportsTheNextTimeline() {
        PhysicalReplicationClient c = streaming();
        c.feed(BackendEncoder.encode(new CopyData(ReplicationCodec.encode(new ReplicationMessage.PrimaryKeepalive(
                Lsn.parse("0/2000000"), 5, true)))));
        assertEquals(new Keepalive(Lsn.parse("0/2000000"), 5, true), c.poll());
        c.feed(BackendEncoder.encode(new CopyDone()));
        assertEquals(PhysicalReplicationClient.State.ENDING, c.state());
        assertArrayEquals(new byte[] {'c', 0, 0, 0, 4}, c.drainOutbound(), "client answers CopyDone");
        List<BackendMessage> end = new java.util.ArrayList<>(
                dev.zenith.protocol.server.ReplicationResponses.endOfTimeline(2, Lsn.parse("0/3000000")));
        end.add(new ReadyForQuery('I'));
        c.feed(BackendEncoder.encode(end.toArray(BackendMessage[]::new)));
        assertEquals(new EndOfStreaming(2, Lsn.parse("0/3000000")), c.poll());
        assertEquals(PhysicalReplicationClient.State.DONE, c.state());
    }

    static PhysicalReplicationClient streaming() {
        PhysicalReplicationClient c = new PhysicalReplicationClient(new PhysicalReplicationClient.Config(
                "u", null, "app", null, null, 0));
        c.startupPacket();
        c.feed(BackendEncoder.encode(new AuthenticationOk(), new ReadyForQuery('I'),
                new RowDescription(List.of()), DataRow.ofText("123", "1", "0/1000000", null),
                new CommandComplete("IDENTIFY_SYSTEM"), new ReadyForQuery('I'),
                new CopyBothResponse((byte) 0, List.of())));
        ReplicationEvent e;
        while ((e = c.poll()) != null) {
            assertFalse(e instanceof ProtocolError, e.toString());
        }
        assertEquals(PhysicalReplicationClient.State.STREAMING, c.state());
        c.drainOutbound();
        return c;
    }
}
