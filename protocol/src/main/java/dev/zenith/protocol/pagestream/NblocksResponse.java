package dev.zenith.protocol.pagestream;

/** Tag 101: u32 number of blocks. */
public record NblocksResponse(NblocksRequest request, int blocks) implements PagestreamResponse {
    public static final int TAG = 101;

    public RequestHeader header() {
        return request.header();
    }

    public int tag() {
        return TAG;
    }
}
