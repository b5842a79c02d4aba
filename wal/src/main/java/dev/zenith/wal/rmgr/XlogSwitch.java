package dev.zenith.wal.rmgr;

/** XLOG_SWITCH: the rest of the segment is unused. */
public record XlogSwitch() implements WalPayload {
}
