package dev.zenith.wal.rmgr;

/** XLOG_FPI or XLOG_FPI_FOR_HINT: the images are in the record's block references. */
public record FullPageImageRecord(boolean forHint) implements WalPayload {
}
