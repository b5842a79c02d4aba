package dev.zenith.objectstore;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/** One part of an unfinished multipart upload, as the server lists it. */
public record UploadedPart(int partNumber, String etag, long size) {
    /** The ETag S3 gives a part: the MD5 of its bytes in lower-case hex (resumption compares against it). */
    public static String md5Etag(byte[] b, int offset, int length) {
        try {
            MessageDigest d = MessageDigest.getInstance("MD5");
            d.update(b, offset, length);
            return HexFormat.of().formatHex(d.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every Java has MD5", e);
        }
    }
}
