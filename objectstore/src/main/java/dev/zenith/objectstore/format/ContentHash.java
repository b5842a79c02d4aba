package dev.zenith.objectstore.format;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.HexFormat;

/** SHA-256 of an object's content (before compression): its address and its checksum. */
public final class ContentHash {
    public static final int LENGTH = 32;
    private final byte[] bytes;

    private ContentHash(byte[] bytes) {
        this.bytes = bytes;
    }

    public static ContentHash of(byte[] hash) {
        if (hash.length != LENGTH) {
            throw new IllegalArgumentException("a SHA-256 has 32 bytes, not " + hash.length);
        }
        return new ContentHash(hash.clone());
    }

    public static ContentHash parse(String hex) {
        if (hex == null || hex.length() != 2 * LENGTH || !hex.chars().allMatch(c -> (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
            throw new IllegalArgumentException("not a SHA-256 in lower-case hex: '" + hex + "'");
        }
        return new ContentHash(HexFormat.of().parseHex(hex));
    }

    public static ContentHash ofContent(byte[] content, int offset, int length) {
        MessageDigest d = newDigest();
        d.update(content, offset, length);
        return new ContentHash(d.digest());
    }

    public static ContentHash ofContent(byte[] content) {
        return ofContent(content, 0, content.length);
    }

    public static MessageDigest newDigest() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every Java has SHA-256", e);
        }
    }

    public byte[] bytes() {
        return bytes.clone();
    }

    public String hex() {
        return HexFormat.of().formatHex(bytes);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof ContentHash h && Arrays.equals(bytes, h.bytes);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(bytes);
    }

    @Override
    public String toString() {
        return hex();
    }
}
