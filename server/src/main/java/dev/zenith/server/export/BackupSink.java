package dev.zenith.server.export;

import java.io.IOException;
import java.io.OutputStream;
import java.time.Instant;

/** Where a base backup's members go, one after another: a directory or a tar (blocking). */
interface BackupSink extends AutoCloseable {
    void directory(String path, Instant modified) throws IOException;

    /** A file of {@code size} bytes: write them all to the stream, then close it. */
    OutputStream file(String path, long size, Instant modified) throws IOException;

    /** Everything is written: flush it to disk. Without this, {@link #close} only releases. */
    void finish() throws IOException;

    @Override
    void close() throws IOException;
}
