package dev.zenith.protocol.pagestream;

import dev.zenith.protocol.wire.ByteReader;
import dev.zenith.protocol.wire.ProtocolException;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.segment.WalGeometry;

/**
 * Turns the payload of one CopyData message into a pagestream request (server side) or response
 * (client side). Field order and sizes are those of Neon's {@code PagestreamFeMessage::parse} and
 * {@code PagestreamBeMessage::deserialize}, big-endian. Unlike Neon's parser, a request with bytes
 * after its last field is refused (Neon ignores them): a message is exactly one request.
 */
public final class PagestreamDecoder {
    /** The longest request (a v3 GetPage): no CopyData a client sends in a stream is longer. */
    public static final int MAX_REQUEST_BYTES = 25 + 13 + 4;

    private PagestreamDecoder() {
    }

    public static PagestreamRequest request(byte[] message, PagestreamVersion version) {
        if (message.length == 0) {
            throw new ProtocolException(ProtocolException.Kind.MALFORMED, "empty pagestream request");
        }
        int tag = message[0] & 0xFF;
        ByteReader r = new ByteReader(message, 1, message.length - 1, requestName(tag));
        RequestHeader header = header(r, version);
        PagestreamRequest request = switch (tag) {
            case ExistsRequest.TAG -> new ExistsRequest(header, rel(r));
            case NblocksRequest.TAG -> new NblocksRequest(header, rel(r));
            case GetPageRequest.TAG -> new GetPageRequest(header, rel(r), r.int32("blkno"));
            case DbSizeRequest.TAG -> new DbSizeRequest(header, r.int32("dbnode"));
            default -> new GetSlruSegmentRequest(header, r.int8("kind") & 0xFF, r.int32("segno"));
        };
        r.end();
        return request;
    }

    /**
     * The request's name for messages (constants: this runs for every request); an unknown tag is an
     * {@link ProtocolException.Kind#UNKNOWN_TYPE} error.
     */
    private static String requestName(int tag) {
        return switch (tag) {
            case ExistsRequest.TAG -> "pagestream Exists request";
            case NblocksRequest.TAG -> "pagestream Nblocks request";
            case GetPageRequest.TAG -> "pagestream GetPage request";
            case DbSizeRequest.TAG -> "pagestream DbSize request";
            case GetSlruSegmentRequest.TAG -> "pagestream GetSlruSegment request";
            default -> throw new ProtocolException(ProtocolException.Kind.UNKNOWN_TYPE,
                    "invalid pagestream request tag " + tag + " (expected 0 Exists, 1 Nblocks, 2 GetPage, 3 DbSize, "
                            + "4 GetSlruSegment)");
        };
    }

    private static RequestHeader header(ByteReader r, PagestreamVersion version) {
        long requestId = version == PagestreamVersion.V3 ? r.int64("reqid") : 0;
        return new RequestHeader(requestId, Lsn.of(r.int64("request_lsn")), Lsn.of(r.int64("not_modified_since")));
    }

    private static RelationKey rel(ByteReader r) {
        return new RelationKey(r.int32("spcnode"), r.int32("dbnode"), r.int32("relnode"), r.int8("forknum") & 0xFF);
    }

    /**
     * A response to {@code answered}, the request it must answer (responses come in request order).
     * In v3 the echoed request must be that one, field for field; in v2 nothing is echoed to check.
     */
    public static PagestreamResponse response(byte[] message, PagestreamVersion version, PagestreamRequest answered) {
        return response(message, 0, message.length, version, answered);
    }

    /**
     * As {@link #response(byte[], PagestreamVersion, PagestreamRequest)}, from {@code length} bytes of {@code buf}
     * at {@code offset} (a client's reused read buffer: a page answer is 8 KiB, and copying it into a message of
     * its own first cost a load generator as much as the rest of its work per page).
     */
    public static PagestreamResponse response(byte[] buf, int offset, int length, PagestreamVersion version,
                                              PagestreamRequest answered) {
        if (length == 0) {
            throw new ProtocolException(ProtocolException.Kind.MALFORMED, "empty pagestream response");
        }
        int tag = buf[offset] & 0xFF;
        ByteReader r = new ByteReader(buf, offset + 1, length - 1, "pagestream response (tag " + tag + ")");
        if (tag == PagestreamErrorResponse.TAG) {
            RequestHeader header = answered.header();
            if (version == PagestreamVersion.V3) {
                header = header(r, version);
                requireEcho(header, answered.header(), r);
            }
            String text = r.cstring("message");
            r.end();
            return new PagestreamErrorResponse(header, text);
        }
        int expected = switch (answered.tag()) {
            case ExistsRequest.TAG -> ExistsResponse.TAG;
            case NblocksRequest.TAG -> NblocksResponse.TAG;
            case GetPageRequest.TAG -> GetPageResponse.TAG;
            case DbSizeRequest.TAG -> DbSizeResponse.TAG;
            default -> SlruSegmentResponse.TAG;
        };
        if (tag != expected) {
            throw r.malformed("tag " + tag + " does not answer a request of tag " + answered.tag()
                    + " (expected " + expected + " or " + PagestreamErrorResponse.TAG + ")");
        }
        if (version == PagestreamVersion.V3) {
            RequestHeader header = header(r, version);
            PagestreamRequest echoed;
            if (answered instanceof ExistsRequest) {
                echoed = new ExistsRequest(header, rel(r));
            } else if (answered instanceof NblocksRequest) {
                echoed = new NblocksRequest(header, rel(r));
            } else if (answered instanceof GetPageRequest) {
                echoed = new GetPageRequest(header, rel(r), r.int32("blkno"));
            } else if (answered instanceof DbSizeRequest) {
                echoed = new DbSizeRequest(header, r.int32("dbnode"));
            } else {
                echoed = new GetSlruSegmentRequest(header, r.int8("kind") & 0xFF, r.int32("segno"));
            }
            requireEcho(echoed, answered, r);
        }
        PagestreamResponse response;
        if (answered instanceof ExistsRequest e) {
            response = new ExistsResponse(e, existsFlag(r));
        } else if (answered instanceof NblocksRequest n) {
            response = new NblocksResponse(n, r.int32("n_blocks"));
        } else if (answered instanceof GetPageRequest g) {
            response = new GetPageResponse(g, r.bytes(WalGeometry.BLCKSZ, "page"));
        } else if (answered instanceof DbSizeRequest d) {
            response = new DbSizeResponse(d, r.int64("db_size"));
        } else {
            long blocks = Integer.toUnsignedLong(r.int32("n_blocks"));
            if (blocks * WalGeometry.BLCKSZ != r.remaining()) {
                throw r.malformed(blocks + " blocks announced, " + r.remaining() + " bytes follow");
            }
            response = new SlruSegmentResponse((GetSlruSegmentRequest) answered, r.rest());
        }
        r.end();
        return response;
    }

    private static boolean existsFlag(ByteReader r) {
        byte b = r.int8("exists");
        if (b != 0 && b != 1) {
            throw r.malformed("exists must be 0 or 1, got " + b);
        }
        return b == 1;
    }

    private static void requireEcho(Object echoed, Object sent, ByteReader r) {
        if (!echoed.equals(sent)) {
            throw r.malformed("it echoes " + echoed + " but answers " + sent);
        }
    }
}
