package dev.zenith.wal.rmgr;

/**
 * XLOG_DBASE_CREATE_FILE_COPY (a directory copied from a template: {@code fileCopy}, source ids
 * set) or XLOG_DBASE_CREATE_WAL_LOG (an empty directory; the contents follow as WAL, source ids 0).
 */
public record DbaseCreate(boolean fileCopy, long dbId, long tablespaceId, long srcDbId, long srcTablespaceId)
        implements WalPayload {
}
