package dev.zenith.wal.decoder;

import dev.zenith.wal.Lsn;

/**
 * Valid WAL ends at {@code validEnd}: the start of the record that could not be read, which is where
 * the WAL receiver cuts its torn tail and where PostgreSQL would start writing. {@code problemAt} is
 * the exact position of the defect (a page header, a record header) and {@code message} says it in
 * xlogreader's words.
 */
public record EndOfWal(EndReason reason, Lsn validEnd, Lsn problemAt, String message) implements DecodeResult {
    @Override
    public Kind kind() {
        return Kind.END_OF_WAL;
    }

    @Override
    public String toString() {
        return "END_OF_WAL " + reason + " at " + validEnd + " (" + message + ")";
    }
}
