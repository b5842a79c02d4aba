package dev.zenith.protocol.pagestream;

import dev.zenith.wal.segment.WalGeometry;

import java.nio.ByteBuffer;

/**
 * The 8192 bytes of a GetPage answer, written where the answer goes: a server's page may be kept compressed
 * until it is decoded straight into the socket's buffer ({@link dev.zenith.protocol.wire.ByteWriter#later}).
 */
@FunctionalInterface
public interface PageContent {
    int BYTES = WalGeometry.BLCKSZ;

    /** Writes the page's {@link #BYTES} bytes from {@code target}'s position on, advancing it. */
    void writeTo(ByteBuffer target);

    /** The page as an array. */
    default byte[] toArray() {
        ByteBuffer b = ByteBuffer.allocate(BYTES);
        writeTo(b);
        return b.array();
    }

    /** A page held as an array (not copied: the caller leaves it as it is). */
    static PageContent of(byte[] page) {
        if (page.length != BYTES) {
            throw new IllegalArgumentException("a page is " + BYTES + " bytes, not " + page.length);
        }
        return new Held(page);
    }

    /** {@link #of}'s: {@link #toArray} hands back the array itself. */
    record Held(byte[] page) implements PageContent {
        @Override
        public void writeTo(ByteBuffer target) {
            target.put(page);
        }

        @Override
        public byte[] toArray() {
            return page;
        }
    }
}
