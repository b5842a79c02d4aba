package dev.zenith.objectstore.format;

import org.junit.jupiter.api.Test;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ObjectFrameTest {
    @Test
    void roundTripsInMemoryAndStreamingAndCompresses() throws IOException {
        byte[] content = walLike(200_000);
        ObjectFrame.Encoded e = ObjectFrame.encode(content);
        assertTrue(e.bytes().length < content.length / 2, "WAL-like content compresses: " + e.bytes().length);
        assertEquals(ContentHash.ofContent(content), e.hash());
        assertArrayEquals(content, ObjectFrame.decode("x", e.bytes(), e.hash()));
        assertArrayEquals(content, ObjectFrame.decodeStreaming("x", e.bytes(), e.hash()));

        ByteArrayOutputStream streamed = new ByteArrayOutputStream();
        ObjectFrame.encode(new ByteArrayInputStream(content), content.length, e.hash(), streamed, ObjectFrame.DEFAULT_LEVEL);
        assertArrayEquals(content, ObjectFrame.decode("x", streamed.toByteArray(), e.hash()));
        assertArrayEquals(new byte[0], ObjectFrame.decode("empty", ObjectFrame.encode(new byte[0]).bytes(), null));
    }

    @Test
    void incompressibleContentIsStoredAsItIsAndStillVerified() throws IOException {
        byte[] random = new byte[1 << 20];
        new Random(3).nextBytes(random);
        ContentHash hash = ContentHash.ofContent(random);
        ObjectFrame.Built raw = ObjectFrame.encodeAdaptive(random, 0, random.length, hash, ObjectFrame.DEFAULT_LEVEL);
        assertEquals(false, raw.compressed(), "zstd cannot shrink random bytes: skipped");
        assertEquals(ObjectFrame.HEADER_LENGTH + random.length, raw.length());
        byte[] frame = Arrays.copyOf(raw.buffer(), raw.length());
        assertArrayEquals(random, ObjectFrame.decode("x", frame, hash));
        assertArrayEquals(random, ObjectFrame.decodeStreaming("x", frame, hash));
        frame[ObjectFrame.HEADER_LENGTH + 12345] ^= 1;
        assertThrows(CorruptObjectException.class, () -> ObjectFrame.decode("x", frame, hash));
        assertThrows(CorruptObjectException.class, () -> ObjectFrame.decodeStreaming("x", frame, hash));

        byte[] wal = walLike(1 << 20);
        ObjectFrame.Built packed = ObjectFrame.encodeAdaptive(wal, 0, wal.length, ContentHash.ofContent(wal), ObjectFrame.DEFAULT_LEVEL);
        assertTrue(packed.compressed() && packed.length() < wal.length / 2, "WAL-like content is compressed: " + packed.length());
        assertArrayEquals(wal, ObjectFrame.decode("y", Arrays.copyOf(packed.buffer(), packed.length()), null));

        // too small to sample: compressed whole, and stored as it is since that did not shrink it
        byte[] small = Arrays.copyOf(random, 4096);
        assertEquals(false, ObjectFrame.encodeAdaptive(small, 0, small.length, ContentHash.ofContent(small), 1).compressed());
    }

    @Test
    void everyFlippedByteIsDetectedWithAClearError() {
        byte[] content = walLike(3000);
        byte[] frame = ObjectFrame.encode(content).bytes();
        for (int i = 0; i < frame.length; i++) {
            byte[] bad = frame.clone();
            bad[i] ^= 0x01;
            int at = i;
            CorruptObjectException e = assertThrows(CorruptObjectException.class,
                    () -> ObjectFrame.decode("blobs/ab/abc", bad, null), "flip at " + at);
            assertTrue(e.getMessage().startsWith("blobs/ab/abc is corrupt: "), e.getMessage());
            assertThrows(CorruptObjectException.class, () -> ObjectFrame.decodeStreaming("s", bad, null), "flip at " + at);
        }
    }

    @Test
    void truncatedExtendedAndMisnamedFramesAreRefused() {
        byte[] content = "hello, object".getBytes(StandardCharsets.UTF_8);
        ObjectFrame.Encoded e = ObjectFrame.encode(content);
        for (int n : new int[]{0, 10, ObjectFrame.HEADER_LENGTH, e.bytes().length - 1}) {
            byte[] cut = Arrays.copyOf(e.bytes(), n);
            assertThrows(CorruptObjectException.class, () -> ObjectFrame.decode("x", cut, null), "cut at " + n);
            assertThrows(CorruptObjectException.class, () -> ObjectFrame.decodeStreaming("x", cut, null), "cut at " + n);
        }
        byte[] longer = Arrays.copyOf(e.bytes(), e.bytes().length + 7);
        assertThrows(CorruptObjectException.class, () -> ObjectFrame.decode("x", longer, null));
        ContentHash other = ContentHash.ofContent(new byte[]{1});
        CorruptObjectException wrong = assertThrows(CorruptObjectException.class, () -> ObjectFrame.decode("k", e.bytes(), other));
        assertTrue(wrong.getMessage().contains("not the expected " + other.hex()), wrong.getMessage());
    }

    @Test
    void streamingEncodeRefusesContentThatChangedSinceItWasHashed() {
        byte[] content = walLike(10_000);
        ContentHash hash = ContentHash.ofContent(content);
        byte[] changed = content.clone();
        changed[5000] ^= 1;
        IOException e = assertThrows(IOException.class, () -> ObjectFrame.encode(new ByteArrayInputStream(changed),
                changed.length, hash, new ByteArrayOutputStream(), 1));
        assertTrue(e.getMessage().contains("changed"), e.getMessage());
        assertThrows(IOException.class, () -> ObjectFrame.encode(new ByteArrayInputStream(content),
                content.length + 1, hash, new ByteArrayOutputStream(), 1));
    }

    /** Bytes shaped like WAL: 8 KiB pages of headers, repeated record shapes, some random payload. */
    static byte[] walLike(int n) {
        byte[] b = new byte[n];
        Random r = new Random(n);
        for (int i = 0; i < n; i++) {
            b[i] = (i % 8192) < 24 ? (byte) (i >> 13) : (i % 97 < 30 ? (byte) r.nextInt(256) : (byte) (i % 7));
        }
        return b;
    }
}
