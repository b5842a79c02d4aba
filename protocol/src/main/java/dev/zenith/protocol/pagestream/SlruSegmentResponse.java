package dev.zenith.protocol.pagestream;

import dev.zenith.wal.segment.WalGeometry;

/** Tag 105: u32 number of 8 KiB blocks, then the blocks. */
public record SlruSegmentResponse(GetSlruSegmentRequest request, byte[] segment) implements PagestreamResponse {
    public static final int TAG = 105;

    public SlruSegmentResponse {
        if (segment.length % WalGeometry.BLCKSZ != 0) {
            throw new IllegalArgumentException("an SLRU segment is whole 8 KiB blocks, not " + segment.length + " bytes");
        }
    }

    public int blocks() {
        return segment.length / WalGeometry.BLCKSZ;
    }

    public RequestHeader header() {
        return request.header();
    }

    public int tag() {
        return TAG;
    }
}
