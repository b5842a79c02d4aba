package dev.zenith.protocol.pagestream;

/**
 * A request a page-service client sends, one per CopyData message. The tags are Neon's
 * ({@code PagestreamFeMessageTag} in pagestream_api.rs). {@link PagestreamDecoder} and
 * {@link PagestreamEncoder} own the bytes.
 */
public sealed interface PagestreamRequest
        permits ExistsRequest, NblocksRequest, GetPageRequest, DbSizeRequest, GetSlruSegmentRequest {
    RequestHeader header();

    /** The first byte of the message. */
    int tag();
}
