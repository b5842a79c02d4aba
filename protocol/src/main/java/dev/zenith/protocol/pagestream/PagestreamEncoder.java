package dev.zenith.protocol.pagestream;

import dev.zenith.protocol.wire.ByteWriter;

/**
 * The bytes of pagestream requests (what a client sends, inside CopyData) and responses (what the
 * server sends), as Neon's {@code PagestreamFeMessage::serialize} and {@code PagestreamBeMessage::serialize}
 * write them. Neon's request serializer only writes v3; this one writes both versions.
 */
public final class PagestreamEncoder {
    private PagestreamEncoder() {
    }

    public static byte[] request(PagestreamRequest request, PagestreamVersion version) {
        ByteWriter w = new ByteWriter();
        w.int8(request.tag());
        header(request.header(), version, w);
        if (request instanceof ExistsRequest e) {
            rel(e.rel(), w);
        } else if (request instanceof NblocksRequest n) {
            rel(n.rel(), w);
        } else if (request instanceof GetPageRequest g) {
            rel(g.rel(), w).int32(g.blockNumber());
        } else if (request instanceof DbSizeRequest d) {
            w.int32(d.dbNode());
        } else if (request instanceof GetSlruSegmentRequest s) {
            w.int8(s.kind()).int32(s.segmentNumber());
        }
        return w.toByteArray();
    }

    public static byte[] response(PagestreamResponse response, PagestreamVersion version) {
        ByteWriter w = new ByteWriter();
        response(response, version, w);
        return w.toByteArray();
    }

    /** Appends the response's bytes (a CopyData payload) to {@code w}. */
    public static void response(PagestreamResponse response, PagestreamVersion version, ByteWriter w) {
        w.int8(response.tag());
        boolean echo = version == PagestreamVersion.V3;
        if (response instanceof PagestreamErrorResponse e) {
            if (echo) {
                header(e.header(), version, w);
            }
            w.cstring(e.message());
            return;
        }
        if (echo) {
            header(response.header(), version, w);
        }
        if (response instanceof ExistsResponse e) {
            if (echo) {
                rel(e.request().rel(), w);
            }
            w.int8(e.exists() ? 1 : 0);
        } else if (response instanceof NblocksResponse n) {
            if (echo) {
                rel(n.request().rel(), w);
            }
            w.int32(n.blocks());
        } else if (response instanceof GetPageResponse g) {
            if (echo) {
                rel(g.request().rel(), w).int32(g.request().blockNumber());
            }
            w.later(PageContent.BYTES, g.content()::writeTo); // made where the answer goes, not here
        } else if (response instanceof DbSizeResponse d) {
            if (echo) {
                w.int32(d.request().dbNode());
            }
            w.int64(d.bytes());
        } else if (response instanceof SlruSegmentResponse s) {
            if (echo) {
                w.int8(s.request().kind()).int32(s.request().segmentNumber());
            }
            w.int32(s.blocks()).bytes(s.segment());
        }
    }

    private static void header(RequestHeader h, PagestreamVersion version, ByteWriter w) {
        if (version == PagestreamVersion.V3) {
            w.int64(h.requestId());
        }
        w.int64(h.requestLsn().value()).int64(h.notModifiedSince().value());
    }

    private static ByteWriter rel(RelationKey rel, ByteWriter w) {
        return w.int32(rel.spcNode()).int32(rel.dbNode()).int32(rel.relNode()).int8(rel.forkNumber());
    }
}
