package dev.zenith.storage.wal;

import dev.zenith.wal.Lsn;

import java.nio.ByteBuffer;

/**
 * A timeline's own stored WAL: [start, end), and the end of its last complete record (null when
 * none is known). Stored as three big-endian longs, 0 meaning "none".
 */
public record WalPositions(Lsn start, Lsn end, Lsn lastRecordEnd) {
    public static final WalPositions EMPTY = new WalPositions(Lsn.INVALID, Lsn.INVALID, null);

    public boolean isEmpty() {
        return start.equals(end);
    }

    public byte[] encode() {
        return ByteBuffer.allocate(24).putLong(start.value()).putLong(end.value())
                .putLong(lastRecordEnd == null ? 0 : lastRecordEnd.value()).array();
    }

    public static WalPositions decode(byte[] b) {
        ByteBuffer buf = ByteBuffer.wrap(b);
        Lsn start = Lsn.of(buf.getLong());
        Lsn end = Lsn.of(buf.getLong());
        long last = buf.getLong();
        return new WalPositions(start, end, last == 0 ? null : Lsn.of(last));
    }
}
