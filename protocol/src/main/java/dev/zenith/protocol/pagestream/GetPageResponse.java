package dev.zenith.protocol.pagestream;

import dev.zenith.wal.segment.WalGeometry;

/** Tag 102: the 8192 bytes of the page. */
public record GetPageResponse(GetPageRequest request, byte[] page) implements PagestreamResponse {
    public static final int TAG = 102;

    public GetPageResponse {
        if (page.length != WalGeometry.BLCKSZ) {
            throw new IllegalArgumentException("a page is " + WalGeometry.BLCKSZ + " bytes, not " + page.length);
        }
    }

    public RequestHeader header() {
        return request.header();
    }

    public int tag() {
        return TAG;
    }
}
