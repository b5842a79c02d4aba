package dev.zenith.wal.rmgr;

/** XLOG_RELMAP_UPDATE: a new pg_filenode.map for a database (dbId 0: the shared map). */
public record RelmapUpdate(long dbId, long tablespaceId, byte[] mapFile) implements WalPayload {
}
