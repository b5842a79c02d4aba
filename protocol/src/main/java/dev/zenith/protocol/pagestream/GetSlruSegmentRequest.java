package dev.zenith.protocol.pagestream;

/**
 * Tag 4: a whole SLRU segment at the LSN. {@code kind} is sent as a u8 and not checked when decoding
 * (Neon's SlruKind: 0 pg_xact, 1 pg_multixact/members, 2 pg_multixact/offsets).
 */
public record GetSlruSegmentRequest(RequestHeader header, int kind, int segmentNumber) implements PagestreamRequest {
    public static final int TAG = 4;

    public int tag() {
        return TAG;
    }
}
