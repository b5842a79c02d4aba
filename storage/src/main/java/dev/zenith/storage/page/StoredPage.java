package dev.zenith.storage.page;

import dev.zenith.wal.segment.WalGeometry;

import java.nio.ByteBuffer;

/**
 * A page as a read found it: a stored version still in the store's encoding ({@link PageCodec}: an
 * lz4-compressed page is ~1 KiB), or one made whole (redo's, zeros). Decoded only where it goes, so that a
 * page service decompresses it straight into its socket's buffer instead of into an array of its own first.
 * Immutable: neither array is changed after it is made.
 */
public final class StoredPage {
    /** What {@link #zeros} writes; never handed out. */
    private static final byte[] ZERO_PAGE = new byte[WalGeometry.BLCKSZ];
    private static final StoredPage ZEROS = new StoredPage(null, null);
    /** Null in both: all zeros. */
    private final byte[] encoded;
    private final byte[] page;

    private StoredPage(byte[] encoded, byte[] page) {
        this.encoded = encoded;
        this.page = page;
    }

    /** A stored value, as {@link PageCodec#encode} made it (checked: its store's CRC-32C matched). */
    static StoredPage encoded(byte[] value) {
        return new StoredPage(value, null);
    }

    /** A whole page (not copied: the caller leaves it as it is). */
    public static StoredPage of(byte[] page) {
        if (page.length != WalGeometry.BLCKSZ) {
            throw new IllegalArgumentException("a page has " + WalGeometry.BLCKSZ + " bytes, not " + page.length);
        }
        return new StoredPage(null, page);
    }

    /** A page of zeros (a block beyond a fork's end, or never written), without an array of its own. */
    public static StoredPage zeros() {
        return ZEROS;
    }

    /** The page's 8 KiB as a new array (or the whole page it was made with). */
    public byte[] page() {
        if (page != null) {
            return page;
        }
        return encoded != null ? PageCodec.decode(encoded) : new byte[WalGeometry.BLCKSZ];
    }

    /** Writes the page's 8 KiB from {@code target}'s position on, advancing it. */
    public void decodeInto(ByteBuffer target) {
        if (page != null) {
            target.put(page);
        } else if (encoded != null) {
            PageCodec.decodeInto(encoded, target);
        } else {
            target.put(ZERO_PAGE);
        }
    }
}
