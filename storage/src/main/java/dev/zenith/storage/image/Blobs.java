package dev.zenith.storage.image;

import dev.zenith.storage.failure.StoreCorruptException;
import dev.zenith.storage.lmdb.Table;
import net.jpountz.lz4.LZ4Compressor;
import net.jpountz.lz4.LZ4Factory;
import net.jpountz.lz4.LZ4SafeDecompressor;
import org.lmdbjava.Txn;

import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.HexFormat;

/** Content-addressed file contents: sha-256 -> [4-byte length][lz4 block]. Identical files are stored once (images and anchors share them). */
public final class Blobs {
    private static final LZ4Compressor COMPRESSOR = LZ4Factory.fastestInstance().fastCompressor();
    // the safe decompressor has a JNI implementation; the "fast" one is pure Java in lz4-java 1.14
    private static final LZ4SafeDecompressor DECOMPRESSOR = LZ4Factory.fastestInstance().safeDecompressor();

    private Blobs() {
    }

    public static byte[] sha256(byte[] content) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(content);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    public static String hex(byte[] hash) {
        return HexFormat.of().formatHex(hash);
    }

    /** Stores the content unless present; returns the encoded size written, 0 if it was there. */
    public static int put(Table blobs, Txn<byte[]> txn, byte[] hash, byte[] content) {
        if (blobs.contains(txn, hash)) {
            return 0;
        }
        byte[] out = new byte[4 + COMPRESSOR.maxCompressedLength(content.length)];
        ByteBuffer.wrap(out).putInt(content.length);
        int n = COMPRESSOR.compress(content, 0, content.length, out, 4, out.length - 4);
        byte[] value = Arrays.copyOf(out, 4 + n);
        blobs.put(txn, hash, value);
        return value.length;
    }

    /** The content whose sha-256 is {@code sha256Hex}: it is its own checksum, so it is checked too. */
    public static byte[] get(Table blobs, Txn<byte[]> txn, String sha256Hex) {
        byte[] value = blobs.get(txn, HexFormat.of().parseHex(sha256Hex));
        if (value == null) {
            throw new StoreCorruptException("file content with sha-256 " + sha256Hex + " is missing from the store");
        }
        int length = ByteBuffer.wrap(value).getInt();
        byte[] content = new byte[length];
        try {
            DECOMPRESSOR.decompress(value, 4, value.length - 4, content, 0, length);
        } catch (RuntimeException e) {
            throw new StoreCorruptException("file content with sha-256 " + sha256Hex + " does not decompress: " + e.getMessage());
        }
        if (!hex(sha256(content)).equals(sha256Hex)) {
            throw new StoreCorruptException("file content with sha-256 " + sha256Hex + " reads back with another sha-256");
        }
        return content;
    }
}
