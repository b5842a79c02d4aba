package dev.zenith.protocol.server;

import dev.zenith.protocol.pagestream.*;
import dev.zenith.protocol.server.PageServiceEvent.*;
import dev.zenith.protocol.wire.*;
import dev.zenith.protocol.wire.BackendMessage.*;
import dev.zenith.wal.Lsn;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/** {@link PageServiceSession} on its own; the same conversation over a socket is PageServiceTest's. */
class PageServiceSessionTest {
    static final String TENANT = "0123456789abcdef0123456789abcdef";
    static final String TIMELINE = "fedcba9876543210fedcba9876543210";
    static final RequestHeader H = new RequestHeader(1, RequestHeader.LATEST, Lsn.of(0x100));
    static final RelationKey REL = new RelationKey(1663, 5, 1259, 0);

    static PageServiceSession session(FrontendMessage... pipelined) {
        FrontendDecoder d = new FrontendDecoder();
        d.feed(FrontendEncoder.encode(FrontendMessage.StartupMessage.of(Map.of("user", "u"))));
        assertInstanceOf(FrontendMessage.StartupMessage.class, d.poll());
        d.feed(FrontendEncoder.encode(pipelined));
        return new PageServiceSession(d);
    }

    static List<BackendMessage> out(PageServiceSession s) {
        BackendDecoder d = new BackendDecoder();
        d.feed(s.drainOutbound());
        List<BackendMessage> l = new ArrayList<>();
        for (BackendMessage m = d.poll(); m != null; m = d.poll()) {
            l.add(m);
        }
        return l;
    }

    static FrontendMessage.CopyData copy(PagestreamRequest r, PagestreamVersion v) {
        return new FrontendMessage.CopyData(PagestreamEncoder.request(r, v));
    }

    @Test
    void sqlIsRefusedAndAStreamAnswersInOrderUntilCopyDone() {
        GetPageRequest gp = new GetPageRequest(H, REL, 0);
        NblocksRequest nb = new NblocksRequest(H, REL);
        PageServiceSession s = session(new FrontendMessage.Query("SELECT 1"),
                new FrontendMessage.Query("pagestream_v3 " + TENANT + " " + TIMELINE),
                copy(gp, PagestreamVersion.V3), copy(nb, PagestreamVersion.V3), new FrontendMessage.CopyDone(),
                new FrontendMessage.Query("pagestream_v2 " + TENANT + " " + TIMELINE));
        QueryRefused refused = (QueryRefused) s.next();
        assertEquals("0A000", refused.error().code());
        StreamRequested req = (StreamRequested) s.next();
        assertEquals(new PagestreamCommand(PagestreamVersion.V3, TENANT, TIMELINE), req.command());
        assertNull(s.next(), "requests wait until the stream is accepted");
        s.startStreaming(PagestreamVersion.V3);
        assertEquals(new Request(gp), s.next());
        assertEquals(new Request(nb), s.next());
        assertEquals(new StreamEnded(), s.next());
        assertNull(s.next(), "the next query waits for endStreaming");
        s.respond(new GetPageResponse(gp, new byte[8192]));
        s.respond(new NblocksResponse(nb, 3));
        s.endStreaming();
        List<BackendMessage> o = out(s);
        assertEquals("0A000", ((ErrorResponse) o.get(0)).fields().code());
        assertEquals(new ReadyForQuery('I'), o.get(1));
        assertEquals(new CopyBothResponse((byte) 0, List.of()), o.get(2));
        assertEquals(gp, ((GetPageResponse) PagestreamDecoder.response(((CopyData) o.get(3)).data(), PagestreamVersion.V3, gp)).request());
        assertEquals(3, ((NblocksResponse) PagestreamDecoder.response(((CopyData) o.get(4)).data(), PagestreamVersion.V3, nb)).blocks());
        assertEquals(new BackendMessage.CopyDone(), o.get(5));
        assertEquals(new CommandComplete("PAGESTREAM_V3"), o.get(6));
        assertEquals(new ReadyForQuery('I'), o.get(7));
        assertEquals(PagestreamVersion.V2, ((StreamRequested) s.next()).command().version());
        s.refuse(ErrorFields.of("ERROR", "3D000", "no such timeline"));
        assertEquals(PageServiceSession.State.IDLE, s.state());
    }

    @Test
    void copyBothResponseIsTheSevenByteMessage() {
        PageServiceSession s = session(new FrontendMessage.Query("pagestream_v2 " + TENANT + " " + TIMELINE));
        s.next();
        s.startStreaming(PagestreamVersion.V2);
        assertArrayEquals(new byte[] {'W', 0, 0, 0, 7, 0, 0, 0}, s.drainOutbound());
    }

    @Test
    void aBadRequestEndsTheConnectionWithAFatalError() {
        byte[] badTag = PagestreamEncoder.request(new ExistsRequest(H, REL), PagestreamVersion.V3);
        badTag[0] = 42;
        ExistsRequest before = new ExistsRequest(H, REL);
        PageServiceSession s = session(new FrontendMessage.Query("pagestream_v3 " + TENANT + " " + TIMELINE),
                copy(before, PagestreamVersion.V3), new FrontendMessage.CopyData(badTag), copy(before, PagestreamVersion.V3));
        s.next();
        s.startStreaming(PagestreamVersion.V3);
        s.drainOutbound();
        assertEquals(new Request(before), s.next());
        Failed f = (Failed) s.next();
        assertEquals("FATAL", f.error().severity());
        assertTrue(f.error().message().startsWith("invalid pagestream request tag 42"), f.error().message());
        assertEquals(PageServiceSession.State.FAILED, s.state());
        assertNull(s.next(), "nothing after the bad message is decoded");
        // The request before it is still answered, then the error goes out.
        s.respond(new ExistsResponse(before, true));
        s.sendFailure(f);
        List<BackendMessage> o = out(s);
        assertInstanceOf(CopyData.class, o.get(0));
        assertEquals("08P01", ((ErrorResponse) o.get(1)).fields().code());
        assertEquals(2, o.size());
    }

    @Test
    void oversizedMessagesAreRefusedBeforeTheyArrive() {
        PageServiceSession s = session(new FrontendMessage.Query("pagestream_v3 " + TENANT + " " + TIMELINE));
        s.next();
        s.startStreaming(PagestreamVersion.V3);
        // CopyData claiming 1 MiB: refused from its length word, nothing buffered for it.
        s.feed(ByteBuffer.wrap(new byte[] {'d', 0, 0x10, 0, 0}));
        Failed f = (Failed) s.next();
        assertTrue(f.error().message().startsWith("invalid length 1048576"), f.error().message());
    }

    @Test
    void halfAMessageWaitsForTheRest() {
        byte[] m = FrontendEncoder.encode(copy(new DbSizeRequest(H, 5), PagestreamVersion.V3));
        PageServiceSession s = session(new FrontendMessage.Query("pagestream_v3 " + TENANT + " " + TIMELINE));
        s.next();
        s.startStreaming(PagestreamVersion.V3);
        s.feed(ByteBuffer.wrap(m, 0, 10));
        assertNull(s.next());
        s.feed(ByteBuffer.wrap(m, 10, m.length - 10));
        assertEquals(new Request(new DbSizeRequest(H, 5)), s.next());
    }

    @Test
    void malformedCommandsAreSyntaxErrorsAndTerminateCloses() {
        PageServiceSession s = session(new FrontendMessage.Query("pagestream_v3 nothex " + TIMELINE),
                new FrontendMessage.Terminate());
        QueryRefused r = (QueryRefused) s.next();
        assertEquals("42601", r.error().code());
        assertEquals(new Terminated(), s.next());
        assertThrows(IllegalStateException.class, () -> s.startStreaming(PagestreamVersion.V3));
    }
}
