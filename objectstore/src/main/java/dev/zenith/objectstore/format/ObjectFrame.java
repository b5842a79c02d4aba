package dev.zenith.objectstore.format;

import com.github.luben.zstd.Zstd;
import com.github.luben.zstd.ZstdException;
import com.github.luben.zstd.ZstdInputStream;
import com.github.luben.zstd.ZstdOutputStream;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.util.Arrays;

/**
 * The bytes of every object zenith stores: a 48-byte header, then the content compressed with zstd.
 * No I/O of its own (streams in, streams out).
 *
 * <pre>
 *   0  4  magic "ZNOB"
 *   4  1  format version (1)
 *   5  1  compression: 0 none, 1 zstd
 *   6  2  reserved, zero
 *   8  8  content length (bytes before compression), big-endian
 *  16 32  SHA-256 of the content (before compression)
 *  48     payload
 * </pre>
 *
 * Every byte is checked on decode: the header's fields, the payload by decompressing it to exactly
 * the stated length and hashing the result. A content-addressed object's key is that hash as well.
 */
public final class ObjectFrame {
    public static final int HEADER_LENGTH = 48;
    public static final int DEFAULT_LEVEL = 1; // zstd's fastest standard level: WAL compresses 2-4x there already
    private static final byte[] MAGIC = {'Z', 'N', 'O', 'B'};
    private static final byte VERSION = 1;
    private static final byte NONE = 0;
    private static final byte ZSTD = 1;
    private static final int COPY_BUFFER = 1 << 16;

    private ObjectFrame() {
    }

    /** An encoded object: its stored bytes and its content's hash. */
    public record Encoded(byte[] bytes, ContentHash hash, long contentLength) {
    }

    public static Encoded encode(byte[] content) {
        return encode(content, 0, content.length, DEFAULT_LEVEL);
    }

    public static Encoded encode(byte[] content, int offset, int length, int level) {
        return encode(content, offset, length, ContentHash.ofContent(content, offset, length), level);
    }

    /** As {@link #encode(byte[], int, int, int)} with the content's hash computed already by the caller. */
    public static Encoded encode(byte[] content, int offset, int length, ContentHash hash, int level) {
        byte[] out = new byte[HEADER_LENGTH + (int) Zstd.compressBound(length)];
        System.arraycopy(header(length, hash), 0, out, 0, HEADER_LENGTH);
        long n = Zstd.compressByteArray(out, HEADER_LENGTH, out.length - HEADER_LENGTH, content, offset, length, level);
        if (Zstd.isError(n)) {
            throw new IllegalStateException("zstd: " + Zstd.getErrorName(n));
        }
        return new Encoded(Arrays.copyOf(out, HEADER_LENGTH + (int) n), hash, length);
    }

    /**
     * Streams {@code length} bytes of content (whose hash the caller computed in a first pass, so
     * the header can lead) into {@code out} as a frame. A content stream that turns out shorter or
     * longer, or with another hash, is an IOException: nothing half-right is produced silently.
     */
    public static void encode(InputStream content, long length, ContentHash hash, OutputStream out, int level) throws IOException {
        out.write(header(length, hash));
        MessageDigest digest = ContentHash.newDigest();
        long copied = 0;
        ZstdOutputStream z = new ZstdOutputStream(new NonClosing(out), level);
        byte[] buf = new byte[COPY_BUFFER];
        int n;
        while ((n = content.read(buf)) > 0) {
            copied += n;
            if (copied > length) {
                throw new IOException("content longer than the " + length + " bytes announced");
            }
            digest.update(buf, 0, n);
            z.write(buf, 0, n);
        }
        z.close();
        if (copied != length) {
            throw new IOException("content shorter (" + copied + " bytes) than the " + length + " announced");
        }
        if (!MessageDigest.isEqual(digest.digest(), hash.bytes())) {
            throw new IOException("content changed while it was being stored (its SHA-256 differs from the first read)");
        }
    }

    public static byte[] header(long contentLength, ContentHash hash) {
        return header(contentLength, hash, true);
    }

    private static byte[] header(long contentLength, ContentHash hash, boolean compressed) {
        ByteBuffer b = ByteBuffer.allocate(HEADER_LENGTH);
        b.put(MAGIC).put(VERSION).put(compressed ? ZSTD : NONE).putShort((short) 0).putLong(contentLength).put(hash.bytes());
        return b.array();
    }

    /** A frame built in a buffer of its own: its bytes are {@code buffer[0, length)}. */
    public record Built(byte[] buffer, int length, boolean compressed) {
    }

    /**
     * The frame of {@code content} (hash computed by the caller), compressed only when that pays: content whose
     * samples zstd cannot shrink (already compressed, encrypted, random pages) is stored as it is, and so is content
     * whose compressed form turns out no smaller. Skipping zstd there saves its whole pass, which on shared cores is
     * most of an upload's CPU; every frame is decoded the same way whichever it is.
     */
    public static Built encodeAdaptive(byte[] content, int offset, int length, ContentHash hash, int level) {
        if (!looksIncompressible(content, offset, length, level)) {
            byte[] out = new byte[HEADER_LENGTH + (int) Zstd.compressBound(length)];
            long n = Zstd.compressByteArray(out, HEADER_LENGTH, out.length - HEADER_LENGTH, content, offset, length, level);
            if (Zstd.isError(n)) {
                throw new IllegalStateException("zstd: " + Zstd.getErrorName(n));
            }
            if (n < length) {
                System.arraycopy(header(length, hash, true), 0, out, 0, HEADER_LENGTH);
                return new Built(out, HEADER_LENGTH + (int) n, true);
            }
        }
        byte[] out = new byte[HEADER_LENGTH + length];
        System.arraycopy(header(length, hash, false), 0, out, 0, HEADER_LENGTH);
        System.arraycopy(content, offset, out, HEADER_LENGTH, length);
        return new Built(out, out.length, false);
    }

    /** Slices spread over the content that zstd sampled and could not shrink by 3%. */
    private static final int SAMPLE = 32 << 10;
    private static final int SAMPLES = 4;

    static boolean looksIncompressible(byte[] content, int offset, int length, int level) {
        if (length < SAMPLE * SAMPLES) {
            return false; // small: compressing it all is cheap
        }
        byte[] out = new byte[(int) Zstd.compressBound(SAMPLE)];
        long step = (length - SAMPLE) / (SAMPLES - 1);
        for (int i = 0; i < SAMPLES; i++) {
            int at = offset + (int) (i * step);
            long n = Zstd.compressByteArray(out, 0, out.length, content, at, SAMPLE, level);
            if (Zstd.isError(n) || n < SAMPLE * 97L / 100) {
                return false;
            }
        }
        return true;
    }

    /** What a frame's header says. */
    public record Header(long contentLength, ContentHash hash, boolean compressed) {
    }

    public static Header readHeader(String what, byte[] frame) {
        if (frame.length < HEADER_LENGTH) {
            throw new CorruptObjectException(what, "only " + frame.length + " bytes, shorter than a header");
        }
        return parseHeader(what, Arrays.copyOf(frame, HEADER_LENGTH));
    }

    private static Header parseHeader(String what, byte[] h) {
        ByteBuffer b = ByteBuffer.wrap(h);
        byte[] magic = new byte[4];
        b.get(magic);
        if (!Arrays.equals(magic, MAGIC)) {
            throw new CorruptObjectException(what, "not a zenith object (bad magic)");
        }
        byte version = b.get();
        if (version != VERSION) {
            throw new CorruptObjectException(what, "unknown format version " + version);
        }
        byte compression = b.get();
        if (compression != NONE && compression != ZSTD) {
            throw new CorruptObjectException(what, "unknown compression " + compression);
        }
        if (b.getShort() != 0) {
            throw new CorruptObjectException(what, "reserved header bytes are not zero");
        }
        long length = b.getLong();
        if (length < 0) {
            throw new CorruptObjectException(what, "negative content length");
        }
        byte[] hash = new byte[ContentHash.LENGTH];
        b.get(hash);
        return new Header(length, ContentHash.of(hash), compression == ZSTD);
    }

    /**
     * The verified content of a whole frame held in memory. {@code expected} (may be null) is the
     * hash the caller knows the object by (its key, or its manifest entry); {@code what} names the
     * object in errors.
     */
    public static byte[] decode(String what, byte[] frame, ContentHash expected) {
        Header h = readHeader(what, frame);
        if (expected != null && !expected.equals(h.hash())) {
            throw new CorruptObjectException(what, "its header's SHA-256 " + h.hash() + " is not the expected " + expected);
        }
        if (h.contentLength() > Integer.MAX_VALUE - 16) {
            throw new CorruptObjectException(what, "content length " + h.contentLength() + " too large to hold in memory");
        }
        byte[] content;
        if (h.compressed()) {
            try {
                content = Zstd.decompress(Arrays.copyOfRange(frame, HEADER_LENGTH, frame.length), (int) h.contentLength());
            } catch (ZstdException | IllegalArgumentException e) {
                throw new CorruptObjectException(what, "its compressed payload does not decode (" + e.getMessage() + ")", e);
            }
        } else {
            content = Arrays.copyOfRange(frame, HEADER_LENGTH, frame.length);
        }
        if (content.length != h.contentLength()) {
            throw new CorruptObjectException(what, "content is " + content.length + " bytes, the header says " + h.contentLength());
        }
        if (!h.hash().equals(ContentHash.ofContent(content))) {
            throw new CorruptObjectException(what, "its content's SHA-256 differs from the header's " + h.hash());
        }
        return content;
    }

    /**
     * Streams a frame's verified content into {@code out}; the caller must discard what it wrote
     * when this throws (the check is complete only at the end). Returns the header.
     */
    public static Header decode(String what, InputStream frame, OutputStream out, ContentHash expected) throws IOException {
        byte[] hb = new byte[HEADER_LENGTH];
        try {
            new DataInputStream(frame).readFully(hb);
        } catch (EOFException e) {
            throw new CorruptObjectException(what, "shorter than a header");
        }
        Header h = parseHeader(what, hb);
        if (expected != null && !expected.equals(h.hash())) {
            throw new CorruptObjectException(what, "its header's SHA-256 " + h.hash() + " is not the expected " + expected);
        }
        MessageDigest digest = ContentHash.newDigest();
        long copied = 0;
        SourceErrors source = new SourceErrors(frame);
        try (InputStream in = h.compressed() ? new ZstdInputStream(source) : source) {
            byte[] buf = new byte[COPY_BUFFER];
            int n;
            while ((n = in.read(buf)) > 0) {
                copied += n;
                if (copied > h.contentLength()) {
                    throw new CorruptObjectException(what, "content longer than the header's " + h.contentLength() + " bytes");
                }
                digest.update(buf, 0, n);
                out.write(buf, 0, n);
            }
        } catch (ZstdException e) {
            throw new CorruptObjectException(what, "its compressed payload does not decode (" + e.getMessage() + ")", e);
        } catch (IOException e) {
            if (source.failed) {
                throw e; // the transport failed, not the data
            }
            throw new CorruptObjectException(what, "its compressed payload does not decode (" + e.getMessage() + ")", e);
        }
        if (copied != h.contentLength()) {
            throw new CorruptObjectException(what, "content is " + copied + " bytes, the header says " + h.contentLength());
        }
        if (!MessageDigest.isEqual(digest.digest(), h.hash().bytes())) {
            throw new CorruptObjectException(what, "its content's SHA-256 differs from the header's " + h.hash());
        }
        return h;
    }

    /** Convenience for small frames: the content of {@code frame} as a stream decode would give it. */
    static byte[] decodeStreaming(String what, byte[] frame, ContentHash expected) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try {
            decode(what, new ByteArrayInputStream(frame), out, expected);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toByteArray();
    }

    /** Remembers whether the source itself failed, to tell a broken download from broken data. */
    private static final class SourceErrors extends java.io.FilterInputStream {
        boolean failed;

        SourceErrors(InputStream in) {
            super(in);
        }

        @Override
        public int read() throws IOException {
            try {
                return in.read();
            } catch (IOException e) {
                failed = true;
                throw e;
            }
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            try {
                return in.read(b, off, len);
            } catch (IOException e) {
                failed = true;
                throw e;
            }
        }
    }

    /** Lets the zstd stream finish its frame without closing the caller's stream. */
    private static final class NonClosing extends java.io.FilterOutputStream {
        NonClosing(OutputStream out) {
            super(out);
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            out.write(b, off, len);
        }

        @Override
        public void close() throws IOException {
            out.flush();
        }
    }
}
