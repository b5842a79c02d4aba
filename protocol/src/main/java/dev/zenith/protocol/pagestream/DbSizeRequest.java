package dev.zenith.protocol.pagestream;

/** Tag 3: the size in bytes of a database's relations in the default tablespace at the LSN. */
public record DbSizeRequest(RequestHeader header, int dbNode) implements PagestreamRequest {
    public static final int TAG = 3;

    public int tag() {
        return TAG;
    }
}
