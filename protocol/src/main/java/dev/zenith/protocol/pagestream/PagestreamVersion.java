package dev.zenith.protocol.pagestream;

/**
 * The two versions of Neon's pagestream a client picks with its command ({@code pagestream_v2} or
 * {@code pagestream_v3}). v2 requests carry request_lsn and not_modified_since; v3 adds a request id
 * before them, and v3 responses echo the whole request (header and fields) before their payload,
 * where v2 responses are the tag and the payload only.
 */
public enum PagestreamVersion {
    V2("pagestream_v2", 1 + 8 + 8),
    V3("pagestream_v3", 1 + 8 + 8 + 8);

    private final String command;
    private final int headerBytes;

    PagestreamVersion(String command, int headerBytes) {
        this.command = command;
        this.headerBytes = headerBytes;
    }

    /** The simple-query word that opens a stream of this version. */
    public String command() {
        return command;
    }

    /** Tag plus request header: 17 bytes in v2, 25 in v3. */
    public int headerBytes() {
        return headerBytes;
    }
}
