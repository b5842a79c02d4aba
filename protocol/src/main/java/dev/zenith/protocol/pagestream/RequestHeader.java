package dev.zenith.protocol.pagestream;

import dev.zenith.wal.Lsn;

/**
 * What every pagestream request starts with (after its tag): the request id (v3 only; 0 in v2), the
 * LSN to read at, and the client's promise that the answer did not change after
 * {@code notModifiedSince}. {@link #LATEST} as request LSN means "the newest you have".
 */
public record RequestHeader(long requestId, Lsn requestLsn, Lsn notModifiedSince) {
    /** 0xFFFFFFFFFFFFFFFF: Neon's Lsn::MAX, "latest". */
    public static final Lsn LATEST = Lsn.of(-1L);

    public boolean isLatest() {
        return requestLsn.equals(LATEST);
    }

    /** For logs and error messages: {@code reqid 7 at latest (not modified since 0/16B3748)}. */
    public String describe() {
        return "reqid " + Long.toUnsignedString(requestId) + " at " + (isLatest() ? "latest" : requestLsn.toString())
                + " (not modified since " + notModifiedSince + ")";
    }
}
