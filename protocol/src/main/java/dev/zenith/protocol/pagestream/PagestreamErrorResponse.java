package dev.zenith.protocol.pagestream;

/**
 * Tag 103: the request failed and the stream goes on. v3 echoes the request header (request id and
 * both LSNs, not the request's other fields), then the message as a NUL-terminated string.
 */
public record PagestreamErrorResponse(RequestHeader header, String message) implements PagestreamResponse {
    public static final int TAG = 103;

    public PagestreamErrorResponse {
        if (message.indexOf('\0') >= 0) {
            throw new IllegalArgumentException("an error message is a C string: no NUL inside");
        }
    }

    public int tag() {
        return TAG;
    }
}
