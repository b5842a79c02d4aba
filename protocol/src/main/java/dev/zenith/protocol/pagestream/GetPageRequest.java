package dev.zenith.protocol.pagestream;

/** Tag 2: block {@code blockNumber} (u32) of a relation fork at the LSN. */
public record GetPageRequest(RequestHeader header, RelationKey rel, int blockNumber) implements PagestreamRequest {
    public static final int TAG = 2;

    public int tag() {
        return TAG;
    }
}
