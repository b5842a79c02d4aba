package dev.zenith.protocol.pagestream;

/** Tag 105: u32 number of 8 KiB blocks, then the blocks. */
public record SlruSegmentResponse(GetSlruSegmentRequest request, byte[] segment) implements PagestreamResponse {
    public static final int TAG = 105;

    public SlruSegmentResponse {
        if (segment.length % GetPageResponse.PAGE_SIZE != 0) {
            throw new IllegalArgumentException("an SLRU segment is whole 8 KiB blocks, not " + segment.length + " bytes");
        }
    }

    public int blocks() {
        return segment.length / GetPageResponse.PAGE_SIZE;
    }

    public RequestHeader header() {
        return request.header();
    }

    public int tag() {
        return TAG;
    }
}
