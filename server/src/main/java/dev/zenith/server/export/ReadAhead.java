package dev.zenith.server.export;

import dev.zenith.server.basebackup.ManifestChecksum;
import dev.zenith.server.basebackup.TarArchiveReader;

import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;

/**
 * Reads a base backup's files on a thread of its own, in chunks, each file's manifest checksum computed as it
 * goes, while the caller writes the chunks before it: reading (pages decoded and verified, checksums) and
 * writing (the tar, its compression, the kernel's copy) overlap instead of taking turns. A few buffers circulate
 * between the two; {@link #close} stops the reader and waits for it. One consumer thread.
 */
final class ReadAhead implements AutoCloseable {
    private static final int BUFFERS = 3;

    /**
     * Up to a buffer's worth of one file's bytes; the file's last chunk (possibly empty) carries its checksum
     * (null when checksums are off). Give it {@link #back} once written.
     */
    record Chunk(byte[] bytes, int length, boolean last, String checksum) {
    }

    /** What the reader failed with, passed through the queue in place of a chunk. */
    private record Failure(Throwable cause) {
    }

    private final List<TarArchiveReader.Entry> files;
    private final ManifestChecksum checksum;
    private final BlockingQueue<byte[]> free = new ArrayBlockingQueue<>(BUFFERS);
    private final BlockingQueue<Object> ready = new ArrayBlockingQueue<>(BUFFERS + 1);
    private final Thread thread;

    /** Starts reading {@code entries}' files (directories are skipped), in order. */
    ReadAhead(List<TarArchiveReader.Entry> entries, ManifestChecksum checksum, int chunkBytes) {
        this.files = entries.stream().filter(e -> !e.directory()).toList();
        this.checksum = checksum;
        for (int i = 0; i < BUFFERS; i++) {
            free.add(new byte[chunkBytes]);
        }
        thread = new Thread(this::readAll, "zenith-export-read");
        thread.setDaemon(true);
        thread.start();
    }

    /** The next chunk, in file order (blocking); the reader's failure rethrown. */
    Chunk next() throws IOException {
        Object o;
        try {
            o = ready.take();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while reading the base backup");
        }
        if (o instanceof Failure f) {
            if (f.cause() instanceof IOException e) {
                throw new IOException(e.getMessage(), e);
            }
            if (f.cause() instanceof RuntimeException e) {
                throw e;
            }
            throw new IOException("reading the base backup failed: " + f.cause(), f.cause());
        }
        return (Chunk) o;
    }

    /** A chunk's buffer, for the reader to fill again. */
    void back(Chunk c) {
        free.add(c.bytes());
    }

    private void readAll() {
        try {
            for (TarArchiveReader.Entry e : files) {
                long left = e.size();
                try (InputStream in = e.source().open()) {
                    do {
                        byte[] buffer = free.take();
                        int n = in.readNBytes(buffer, 0, (int) Math.min(buffer.length, left));
                        if (n == 0 && left > 0) {
                            throw new IOException(e.path() + " is shorter than the " + e.size() + " bytes listed");
                        }
                        checksum.update(buffer, 0, n);
                        left -= n;
                        ready.put(new Chunk(buffer, n, left == 0, left == 0 ? checksum.finishHex() : null));
                    } while (left > 0);
                }
            }
        } catch (InterruptedException e) {
            // stopped by close(): nobody reads what follows
        } catch (Throwable t) {
            ready.offer(new Failure(t)); // room is kept for it: a chunk is queued only in a taken buffer's place
        }
    }

    /** Stops the reader (if it has not finished) and waits for it. */
    @Override
    public void close() {
        thread.interrupt();
        boolean interrupted = false;
        while (true) {
            try {
                thread.join();
                break;
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }
}
