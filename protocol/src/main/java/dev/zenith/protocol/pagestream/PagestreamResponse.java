package dev.zenith.protocol.pagestream;

/**
 * A page service's answer, one per request and in request order. The tags are Neon's
 * ({@code PagestreamBeMessageTag}). In v3 every answer starts with the request's header (and, except
 * for errors, its other fields); in v2 with the tag only.
 */
public sealed interface PagestreamResponse
        permits ExistsResponse, NblocksResponse, GetPageResponse, DbSizeResponse, SlruSegmentResponse,
        PagestreamErrorResponse {
    RequestHeader header();

    int tag();
}
