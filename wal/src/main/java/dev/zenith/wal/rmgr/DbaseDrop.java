package dev.zenith.wal.rmgr;

import java.util.List;

/** XLOG_DBASE_DROP: the database's directory in each tablespace is removed. */
public record DbaseDrop(long dbId, List<Long> tablespaceIds) implements WalPayload {
}
