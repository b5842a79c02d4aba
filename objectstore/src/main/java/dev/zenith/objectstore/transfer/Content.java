package dev.zenith.objectstore.transfer;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * Bytes to upload, readable twice (once to hash them for the key, once to compress and send):
 * an array, or a range of a file (a whole WAL segment, or the written part of a partial one).
 */
public interface Content {
    long length();

    InputStream open() throws IOException;

    /** Whether the content is an array already ({@link #of}): reading it all allocates nothing. */
    default boolean inMemory() {
        return false;
    }

    /** All of it in one array (the array itself for {@link #of}: not to be changed). */
    default byte[] readAll() throws IOException {
        byte[] bytes;
        try (InputStream in = open()) {
            bytes = in.readNBytes(arrayLength(length()) + 1);
        }
        if (bytes.length != length()) {
            throw new IOException("content of " + bytes.length + " bytes, not the " + length() + " announced");
        }
        return bytes;
    }

    /** {@code length} as an array's length, refused when no array holds it. */
    private static int arrayLength(long length) throws IOException {
        if (length > Integer.MAX_VALUE - 16) {
            throw new IOException("content of " + length + " bytes is too large to hold in memory");
        }
        return (int) length;
    }

    static Content of(byte[] bytes) {
        return new Content() {
            @Override
            public long length() {
                return bytes.length;
            }

            @Override
            public InputStream open() {
                return new ByteArrayInputStream(bytes);
            }

            @Override
            public byte[] readAll() {
                return bytes;
            }

            @Override
            public boolean inMemory() {
                return true;
            }
        };
    }

    static Content ofFile(Path file, long offset, long length) {
        return new Content() {
            @Override
            public long length() {
                return length;
            }

            /** Into one array of its length, straight from the file (no stream's chunks gathered and copied). */
            @Override
            public byte[] readAll() throws IOException {
                byte[] bytes = new byte[arrayLength(length)];
                java.nio.ByteBuffer into = java.nio.ByteBuffer.wrap(bytes);
                try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
                    while (into.position() < bytes.length) {
                        // a MiB at a time: NIO reads a heap buffer through a temporary direct one of the read's size,
                        // which it keeps per thread
                        into.limit(Math.min(bytes.length, into.position() + (1 << 20)));
                        if (ch.read(into, offset + into.position()) < 0) {
                            throw new IOException("content of " + into.position() + " bytes, not the " + length + " announced");
                        }
                    }
                }
                return bytes;
            }

            @Override
            public InputStream open() throws IOException {
                FileChannel ch = FileChannel.open(file, StandardOpenOption.READ);
                ch.position(offset);
                InputStream in = Channels.newInputStream(ch);
                return new java.io.FilterInputStream(in) {
                    long left = length;

                    @Override
                    public int read() throws IOException {
                        byte[] one = new byte[1];
                        return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
                    }

                    @Override
                    public int read(byte[] b, int off, int len) throws IOException {
                        if (left <= 0) {
                            return -1;
                        }
                        int n = in.read(b, off, (int) Math.min(len, left));
                        if (n > 0) {
                            left -= n;
                        }
                        return n;
                    }
                };
            }
        };
    }
}
