package dev.zenith.protocol.pagestream;

/** Tag 102: the 8192 bytes of the page. */
public record GetPageResponse(GetPageRequest request, byte[] page) implements PagestreamResponse {
    public static final int TAG = 102;
    public static final int PAGE_SIZE = 8192;

    public GetPageResponse {
        if (page.length != PAGE_SIZE) {
            throw new IllegalArgumentException("a page is " + PAGE_SIZE + " bytes, not " + page.length);
        }
    }

    public RequestHeader header() {
        return request.header();
    }

    public int tag() {
        return TAG;
    }
}
