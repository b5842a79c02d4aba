package dev.zenith.protocol.pagestream;

/** Tag 1: how many blocks does this relation fork have at the LSN? */
public record NblocksRequest(RequestHeader header, RelationKey rel) implements PagestreamRequest {
    public static final int TAG = 1;

    public int tag() {
        return TAG;
    }
}
