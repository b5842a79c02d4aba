package dev.zenith.protocol.server;

import dev.zenith.protocol.replication.ReplicationCodec;
import dev.zenith.protocol.replication.ReplicationCommand;
import dev.zenith.protocol.replication.ReplicationMessage;
import dev.zenith.protocol.server.SessionEvent.*;
import dev.zenith.protocol.wire.*;
import dev.zenith.protocol.wire.BackendMessage.*;
import dev.zenith.wal.Lsn;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/** Edges of {@link WalSenderSession}; the client-ended stream is proven with real pg_receivewal. */
class WalSenderSessionTest {
    static WalSenderSession session(FrontendMessage... pipelined) {
        FrontendDecoder d = new FrontendDecoder();
        d.feed(FrontendEncoder.encode(FrontendMessage.StartupMessage.of(Map.of("user", "u"))));
        assertInstanceOf(FrontendMessage.StartupMessage.class, d.poll());
        d.feed(FrontendEncoder.encode(pipelined));
        return new WalSenderSession(d);
    }

    static List<BackendMessage> out(WalSenderSession s) {
        BackendDecoder d = new BackendDecoder();
        d.feed(s.drainOutbound());
        List<BackendMessage> l = new ArrayList<>();
        BackendMessage m;
        while ((m = d.poll()) != null) {
            l.add(m);
        }
        return l;
    }

    @Test
    void commandsWaitForTheirAnswerAndSyntaxErrorsAreAnsweredAtOnce() {
        WalSenderSession s = session(new FrontendMessage.Query("BASE_BACKUP (BOGUS)"),
                new FrontendMessage.Query("IDENTIFY_SYSTEM"), new FrontendMessage.Query("SHOW x"));
        CommandRejected rej = (CommandRejected) s.poll();
        assertEquals("42601", rej.error().code());
        assertEquals(new CommandReceived("IDENTIFY_SYSTEM", new ReplicationCommand.IdentifySystem()), s.poll());
        assertNull(s.poll(), "SHOW waits until IDENTIFY_SYSTEM is answered");
        assertEquals(WalSenderSession.State.COMMAND, s.state());
        s.reply(ReplicationResponses.identifySystem("1", 1, Lsn.parse("0/1"), null));
        assertEquals(new CommandReceived("SHOW x", new ReplicationCommand.Show("x")), s.poll());
        s.error(ErrorFields.of("ERROR", "42704", "unrecognized configuration parameter \"x\""));
        List<BackendMessage> o = out(s);
        assertEquals("42601", ((ErrorResponse) o.get(0)).fields().code());
        assertEquals(new ReadyForQuery('I'), o.get(1));
        assertInstanceOf(RowDescription.class, o.get(2));
        assertEquals(new ReadyForQuery('I'), o.get(5));
        assertEquals("42704", ((ErrorResponse) o.get(6)).fields().code());
        assertEquals(new ReadyForQuery('I'), o.get(7));
        assertThrows(IllegalStateException.class, () -> s.sendWal(Lsn.of(1), Lsn.of(2), ByteBuffer.allocate(1)));
    }

    @Test
    void endOfTimelineWaitsForTheClientsCopyDone() {
        WalSenderSession s = session(new FrontendMessage.Query("START_REPLICATION 0/1000000 TIMELINE 1"));
        assertInstanceOf(CommandReceived.class, s.poll());
        s.startStreaming();
        s.sendWal(Lsn.parse("0/1000000"), Lsn.parse("0/1000003"), ByteBuffer.wrap(new byte[] {7, 8, 9}));
        s.endOfTimeline(2, Lsn.parse("0/1000003"));
        List<BackendMessage> o = out(s);
        assertInstanceOf(CopyBothResponse.class, o.get(0));
        ReplicationMessage.XLogData x = (ReplicationMessage.XLogData) ReplicationCodec.decode(((CopyData) o.get(1)).data());
        assertArrayEquals(new byte[] {7, 8, 9}, x.bytes());
        assertInstanceOf(BackendMessage.CopyDone.class, o.get(2));
        // the client may still report positions before its CopyDone
        s.feed(FrontendEncoder.encode(new FrontendMessage.CopyData(ReplicationCodec.encode(
                new ReplicationMessage.StandbyStatusUpdate(Lsn.parse("0/1000003"), Lsn.parse("0/1000003"), Lsn.of(0), 1, false))),
                new FrontendMessage.CopyDone()));
        assertInstanceOf(StandbyStatus.class, s.poll());
        assertEquals(new StreamingEnded(false), s.poll());
        List<BackendMessage> end = out(s);
        List<BackendMessage> expected = new ArrayList<>(ReplicationResponses.endOfTimeline(2, Lsn.parse("0/1000003")));
        expected.add(new ReadyForQuery('I'));
        assertArrayEquals(BackendEncoder.encode(expected.toArray(BackendMessage[]::new)),
                BackendEncoder.encode(end.toArray(BackendMessage[]::new)));
        assertEquals(WalSenderSession.State.IDLE, s.state());
    }

    @Test
    void protocolViolationsWhileStreamingAreFatal() {
        WalSenderSession s = session(new FrontendMessage.Query("START_REPLICATION 0/1000000"));
        s.poll();
        s.startStreaming();
        s.feed(FrontendEncoder.encode(new FrontendMessage.CopyData(ReplicationCodec.encode(
                new ReplicationMessage.PrimaryKeepalive(Lsn.of(1), 1, false)))));
        Failed f = (Failed) s.poll();
        assertEquals("FATAL", f.error().severity());
        assertTrue(f.error().message().contains("server-only replication message 'k'"));
        assertEquals(WalSenderSession.State.FAILED, s.state());

        WalSenderSession q = session(new FrontendMessage.Query("START_REPLICATION 0/1000000"));
        q.poll();
        q.startStreaming();
        q.feed(FrontendEncoder.encode(new FrontendMessage.Query("IDENTIFY_SYSTEM")));
        assertInstanceOf(Failed.class, q.poll());

        WalSenderSession t = session(new FrontendMessage.Terminate());
        assertEquals(new Terminated(), t.poll());
        assertEquals(WalSenderSession.State.CLOSED, t.state());
    }
}
