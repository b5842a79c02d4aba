package dev.zenith.wal.rmgr;

/** XLOG_CHECKPOINT_SHUTDOWN or XLOG_CHECKPOINT_ONLINE. */
public record CheckpointRecord(boolean shutdown, CheckPoint checkpoint) implements WalPayload {
}
