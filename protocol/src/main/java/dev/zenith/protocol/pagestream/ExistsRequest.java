package dev.zenith.protocol.pagestream;

/** Tag 0: does this relation fork exist at the LSN? */
public record ExistsRequest(RequestHeader header, RelationKey rel) implements PagestreamRequest {
    public static final int TAG = 0;

    public int tag() {
        return TAG;
    }
}
