package dev.zenith.wal.rmgr;

/** Typed main data of the records the store needs; see {@link MainDataDecoder}. */
public sealed interface WalPayload permits CheckpointRecord, XlogSwitch, FullPageImageRecord, XactCompletion,
        SmgrCreate, SmgrTruncate, DbaseCreate, DbaseDrop, RelmapUpdate {
}
