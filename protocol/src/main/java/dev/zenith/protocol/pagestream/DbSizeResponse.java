package dev.zenith.protocol.pagestream;

/** Tag 104: i64 size in bytes. */
public record DbSizeResponse(DbSizeRequest request, long bytes) implements PagestreamResponse {
    public static final int TAG = 104;

    public RequestHeader header() {
        return request.header();
    }

    public int tag() {
        return TAG;
    }
}
