package dev.zenith.protocol.pagestream;

import dev.zenith.protocol.wire.ProtocolException;
import dev.zenith.wal.Lsn;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The pagestream bytes, written here by hand from Neon's pagestream_api.rs (tags, field order, v2
 * versus v3), against our decoder and encoder.
 */
class PagestreamCodecTest {
    static final RequestHeader H = new RequestHeader(0x0102030405060708L, Lsn.of(0x16B3748L), Lsn.of(0x1000028L));
    static final RelationKey REL = new RelationKey(1663, 5, 16384, 2);

    /** tag, [reqid], request_lsn, not_modified_since as Neon writes them. */
    static ByteBuffer header(int tag, PagestreamVersion v, RequestHeader h, int extra) {
        ByteBuffer b = ByteBuffer.allocate(v.headerBytes() + extra);
        b.put((byte) tag);
        if (v == PagestreamVersion.V3) {
            b.putLong(h.requestId());
        }
        return b.putLong(h.requestLsn().value()).putLong(h.notModifiedSince().value());
    }

    static ByteBuffer rel(ByteBuffer b, RelationKey r) {
        return b.putInt(r.spcNode()).putInt(r.dbNode()).putInt(r.relNode()).put((byte) r.forkNumber());
    }

    @Test
    void requestsOfEveryKindInBothVersions() {
        for (PagestreamVersion v : PagestreamVersion.values()) {
            RequestHeader h = v == PagestreamVersion.V3 ? H : new RequestHeader(0, H.requestLsn(), H.notModifiedSince());
            byte[] exists = rel(header(0, v, h, 13), REL).array();
            byte[] nblocks = rel(header(1, v, h, 13), REL).array();
            byte[] getPage = rel(header(2, v, h, 17), REL).putInt(0xFFFFFFFE).array();
            byte[] dbSize = header(3, v, h, 4).putInt(16384).array();
            byte[] slru = header(4, v, h, 5).put((byte) 1).putInt(7).array();
            List<PagestreamRequest> expected = List.of(new ExistsRequest(h, REL), new NblocksRequest(h, REL),
                    new GetPageRequest(h, REL, 0xFFFFFFFE), new DbSizeRequest(h, 16384), new GetSlruSegmentRequest(h, 1, 7));
            List<byte[]> wire = List.of(exists, nblocks, getPage, dbSize, slru);
            for (int i = 0; i < wire.size(); i++) {
                assertEquals(expected.get(i), PagestreamDecoder.request(wire.get(i), v), v + " request " + i);
                assertArrayEquals(wire.get(i), PagestreamEncoder.request(expected.get(i), v), v + " request " + i);
            }
        }
        assertEquals(42, PagestreamEncoder.request(new GetPageRequest(H, REL, 1), PagestreamVersion.V3).length,
                "a v3 GetPage is 42 bytes");
        assertEquals(PagestreamDecoder.MAX_REQUEST_BYTES, 42);
    }

    @Test
    void latestIsAllOnes() {
        byte[] b = rel(header(2, PagestreamVersion.V3, new RequestHeader(1, RequestHeader.LATEST, Lsn.of(5)), 17), REL)
                .putInt(0).array();
        for (int i = 9; i < 17; i++) {
            assertEquals((byte) 0xFF, b[i]);
        }
        assertTrue(PagestreamDecoder.request(b, PagestreamVersion.V3).header().isLatest());
    }

    @Test
    void responsesV3EchoTheRequestAndV2DoNot() {
        byte[] page = new byte[8192];
        Arrays.fill(page, (byte) 0x5A);
        GetPageRequest gp = new GetPageRequest(H, REL, 3);
        ByteBuffer v3 = rel(header(102, PagestreamVersion.V3, H, 17 + 8192), REL).putInt(3).put(page);
        assertArrayEquals(v3.array(), PagestreamEncoder.response(new GetPageResponse(gp, page), PagestreamVersion.V3));
        byte[] v2 = ByteBuffer.allocate(1 + 8192).put((byte) 102).put(page).array();
        assertArrayEquals(v2, PagestreamEncoder.response(new GetPageResponse(gp, page), PagestreamVersion.V2));
        assertEquals(8234, v3.array().length);

        ExistsRequest ex = new ExistsRequest(H, REL);
        assertArrayEquals(rel(header(100, PagestreamVersion.V3, H, 14), REL).put((byte) 1).array(),
                PagestreamEncoder.response(new ExistsResponse(ex, true), PagestreamVersion.V3));
        assertArrayEquals(new byte[] {100, 0}, PagestreamEncoder.response(new ExistsResponse(ex, false), PagestreamVersion.V2));

        NblocksRequest nb = new NblocksRequest(H, REL);
        assertArrayEquals(rel(header(101, PagestreamVersion.V3, H, 17), REL).putInt(77).array(),
                PagestreamEncoder.response(new NblocksResponse(nb, 77), PagestreamVersion.V3));
        assertArrayEquals(new byte[] {101, 0, 0, 0, 77}, PagestreamEncoder.response(new NblocksResponse(nb, 77), PagestreamVersion.V2));

        DbSizeRequest db = new DbSizeRequest(H, 5);
        assertArrayEquals(header(104, PagestreamVersion.V3, H, 12).putInt(5).putLong(-2).array(),
                PagestreamEncoder.response(new DbSizeResponse(db, -2), PagestreamVersion.V3));

        GetSlruSegmentRequest sl = new GetSlruSegmentRequest(H, 0, 2);
        byte[] seg = new byte[2 * 8192];
        assertArrayEquals(header(105, PagestreamVersion.V3, H, 9 + seg.length).put((byte) 0).putInt(2).putInt(2).put(seg).array(),
                PagestreamEncoder.response(new SlruSegmentResponse(sl, seg), PagestreamVersion.V3));
        assertArrayEquals(ByteBuffer.allocate(5 + seg.length).put((byte) 105).putInt(2).put(seg).array(),
                PagestreamEncoder.response(new SlruSegmentResponse(sl, seg), PagestreamVersion.V2));

        // Errors echo only the header, then a C string.
        byte[] err = "no such relation".getBytes();
        assertArrayEquals(header(103, PagestreamVersion.V3, H, err.length + 1).put(err).put((byte) 0).array(),
                PagestreamEncoder.response(new PagestreamErrorResponse(H, "no such relation"), PagestreamVersion.V3));
        assertArrayEquals(ByteBuffer.allocate(2 + err.length).put((byte) 103).put(err).put((byte) 0).array(),
                PagestreamEncoder.response(new PagestreamErrorResponse(H, "no such relation"), PagestreamVersion.V2));
    }

    @Test
    void responsesDecodeAgainstTheRequestTheyAnswer() {
        byte[] page = new byte[8192];
        page[0] = 9;
        for (PagestreamVersion v : PagestreamVersion.values()) {
            GetPageRequest gp = new GetPageRequest(H, REL, 3);
            GetPageResponse r = (GetPageResponse) PagestreamDecoder.response(
                    PagestreamEncoder.response(new GetPageResponse(gp, page), v), v, gp);
            assertArrayEquals(page, r.page());
            assertEquals(gp, r.request());
            PagestreamErrorResponse e = (PagestreamErrorResponse) PagestreamDecoder.response(
                    PagestreamEncoder.response(new PagestreamErrorResponse(H, "boom"), v), v, gp);
            assertEquals("boom", e.message());
        }
        // A v3 answer that echoes another request does not answer this one.
        GetPageRequest other = new GetPageRequest(new RequestHeader(99, H.requestLsn(), H.notModifiedSince()), REL, 3);
        byte[] wrong = PagestreamEncoder.response(new GetPageResponse(other, page), PagestreamVersion.V3);
        ProtocolException x = assertThrows(ProtocolException.class,
                () -> PagestreamDecoder.response(wrong, PagestreamVersion.V3, new GetPageRequest(H, REL, 3)));
        assertTrue(x.getMessage().contains("echoes"), x.getMessage());
        // An Nblocks answer to a GetPage.
        byte[] nb = PagestreamEncoder.response(new NblocksResponse(new NblocksRequest(H, REL), 1), PagestreamVersion.V2);
        assertThrows(ProtocolException.class, () -> PagestreamDecoder.response(nb, PagestreamVersion.V2, new GetPageRequest(H, REL, 3)));
        // An SLRU answer announcing more blocks than it carries.
        GetSlruSegmentRequest sl = new GetSlruSegmentRequest(H, 0, 0);
        byte[] shortSeg = ByteBuffer.allocate(5 + 8192).put((byte) 105).putInt(2).put(new byte[8192]).array();
        x = assertThrows(ProtocolException.class, () -> PagestreamDecoder.response(shortSeg, PagestreamVersion.V2, sl));
        assertTrue(x.getMessage().contains("2 blocks announced, 8192 bytes follow"), x.getMessage());
    }

    @Test
    void aResponseDecodesFromTheMiddleOfALargerBuffer() {
        byte[] page = new byte[8192];
        page[8191] = 7;
        GetPageRequest gp = new GetPageRequest(H, REL, 3);
        for (PagestreamVersion v : PagestreamVersion.values()) {
            byte[] message = PagestreamEncoder.response(new GetPageResponse(gp, page), v);
            byte[] buf = new byte[message.length + 100];
            java.util.Arrays.fill(buf, (byte) 0x55); // what a reused buffer holds around the message
            System.arraycopy(message, 0, buf, 40, message.length);
            GetPageResponse r = (GetPageResponse) PagestreamDecoder.response(buf, 40, message.length, v, gp);
            assertArrayEquals(page, r.page());
            // a length that cuts the page short is malformed, whatever follows in the buffer
            assertThrows(ProtocolException.class, () -> PagestreamDecoder.response(buf, 40, message.length - 1, v, gp));
        }
    }

    @Test
    void badRequestsAreClearErrors() {
        ProtocolException e = assertThrows(ProtocolException.class, () -> PagestreamDecoder.request(new byte[0], PagestreamVersion.V3));
        assertEquals("empty pagestream request", e.getMessage());

        byte[] badTag = rel(header(9, PagestreamVersion.V3, H, 13), REL).array();
        e = assertThrows(ProtocolException.class, () -> PagestreamDecoder.request(badTag, PagestreamVersion.V3));
        assertEquals(ProtocolException.Kind.UNKNOWN_TYPE, e.kind());
        assertTrue(e.getMessage().startsWith("invalid pagestream request tag 9"), e.getMessage());

        byte[] full = rel(header(2, PagestreamVersion.V3, H, 17), REL).putInt(1).array();
        byte[] truncated = Arrays.copyOf(full, full.length - 2);
        e = assertThrows(ProtocolException.class, () -> PagestreamDecoder.request(truncated, PagestreamVersion.V3));
        assertEquals(ProtocolException.Kind.MALFORMED, e.kind());
        assertEquals("malformed pagestream GetPage request: truncated blkno (need 4 bytes, have 2)", e.getMessage());

        byte[] headerOnly = Arrays.copyOf(full, 10);
        e = assertThrows(ProtocolException.class, () -> PagestreamDecoder.request(headerOnly, PagestreamVersion.V3));
        assertTrue(e.getMessage().contains("truncated request_lsn"), e.getMessage());

        byte[] trailing = Arrays.copyOf(full, full.length + 3);
        e = assertThrows(ProtocolException.class, () -> PagestreamDecoder.request(trailing, PagestreamVersion.V3));
        assertTrue(e.getMessage().contains("3 unexpected trailing bytes"), e.getMessage());

        // A v3 request read as v2 is 8 bytes too long: the versions are not interchangeable.
        assertThrows(ProtocolException.class, () -> PagestreamDecoder.request(full, PagestreamVersion.V2));

        assertThrows(IllegalArgumentException.class, () -> new PagestreamErrorResponse(H, "a\0b"));
        assertThrows(IllegalArgumentException.class, () -> new GetPageResponse(new GetPageRequest(H, REL, 0), new byte[10]));
    }

    @Test
    void forksAreCheckedWhenUsedNotWhenDecoded() {
        RelationKey bad = new RelationKey(1663, 5, 16384, 9);
        byte[] b = rel(header(0, PagestreamVersion.V2, new RequestHeader(0, Lsn.of(1), Lsn.of(1)), 13), bad).array();
        ExistsRequest r = (ExistsRequest) PagestreamDecoder.request(b, PagestreamVersion.V2);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> r.rel().toRelTag());
        assertEquals("invalid fork number 9", e.getMessage());
        assertEquals("base/5/16384_vm", REL.toRelTag().path());
    }

    @Test
    void commands() {
        String t = "0123456789abcdef0123456789ABCDEF";
        String l = "fedcba9876543210fedcba9876543210";
        assertEquals(new PagestreamCommand(PagestreamVersion.V3, t.toLowerCase(), l),
                PagestreamCommand.parse("  PAGESTREAM_V3 " + t + "   " + l + " ").orElseThrow());
        assertEquals(PagestreamVersion.V2, PagestreamCommand.parse("pagestream_v2 " + t + " " + l).orElseThrow().version());
        assertTrue(PagestreamCommand.parse("SELECT 1").isEmpty());
        assertTrue(PagestreamCommand.parse("").isEmpty());
        assertEquals("unsupported page stream command \"pagestream_v1\": use pagestream_v3 or pagestream_v2",
                assertThrows(IllegalArgumentException.class, () -> PagestreamCommand.parse("pagestream_v1 " + t + " " + l)).getMessage());
        assertTrue(assertThrows(IllegalArgumentException.class, () -> PagestreamCommand.parse("pagestream_v3 " + t))
                .getMessage().contains("takes two parameters"));
        assertEquals("invalid timeline id \"xyz\": 32 hex digits expected",
                assertThrows(IllegalArgumentException.class, () -> PagestreamCommand.parse("pagestream_v3 " + t + " xyz")).getMessage());
    }
}
