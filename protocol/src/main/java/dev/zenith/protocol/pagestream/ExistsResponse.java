package dev.zenith.protocol.pagestream;

/** Tag 100: u8 0 or 1. */
public record ExistsResponse(ExistsRequest request, boolean exists) implements PagestreamResponse {
    public static final int TAG = 100;

    public RequestHeader header() {
        return request.header();
    }

    public int tag() {
        return TAG;
    }
}
