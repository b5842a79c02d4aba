package dev.zenith.protocol.pagestream;

/** Tag 102: the 8192 bytes of the page. */
public record GetPageResponse(GetPageRequest request, PageContent content) implements PagestreamResponse {
    public static final int TAG = 102;

    public GetPageResponse(GetPageRequest request, byte[] page) {
        this(request, PageContent.of(page));
    }

    /** The page's bytes (the array it was made with, or a new one). */
    public byte[] page() {
        return content.toArray();
    }

    public RequestHeader header() {
        return request.header();
    }

    public int tag() {
        return TAG;
    }
}
