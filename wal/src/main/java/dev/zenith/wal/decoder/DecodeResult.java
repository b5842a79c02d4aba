package dev.zenith.wal.decoder;

/**
 * What {@link WalStreamDecoder#poll()} gives back: a {@link dev.zenith.wal.record.DecodedRecord},
 * {@link NeedMoreData#INSTANCE}, or an {@link EndOfWal}. Switch on {@link #kind()}.
 */
public interface DecodeResult {
    enum Kind { RECORD, NEED_MORE_DATA, END_OF_WAL }

    Kind kind();
}
