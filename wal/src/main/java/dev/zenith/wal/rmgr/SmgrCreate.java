package dev.zenith.wal.rmgr;

import dev.zenith.wal.RelTag;

/** XLOG_SMGR_CREATE: a relation fork file was created. */
public record SmgrCreate(RelTag rel) implements WalPayload {
}
