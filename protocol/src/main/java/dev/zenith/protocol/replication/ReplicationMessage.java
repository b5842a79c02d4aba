package dev.zenith.protocol.replication;

import dev.zenith.wal.Lsn;

import java.nio.ByteBuffer;

/**
 * The messages carried inside CopyData during streaming replication (protocol-replication).
 * Timestamps are PostgreSQL microseconds since 2000-01-01 (see {@link PgTime}).
 * {@link ReplicationCodec} owns the bytes.
 */
public sealed interface ReplicationMessage {
    /** The first byte of the CopyData payload. */
    char tag();

    /** 'w': WAL bytes starting at {@code dataStart}; {@code walEnd} is the server's current end of WAL. */
    record XLogData(Lsn dataStart, Lsn walEnd, long sendTime, ByteBuffer data) implements ReplicationMessage {
        public XLogData {
            data = data.asReadOnlyBuffer();
        }

        /** A fresh read-only view each call, so reading it never changes this message. */
        @Override
        public ByteBuffer data() {
            return data.duplicate();
        }

        public char tag() {
            return 'w';
        }

        /** The LSN just past these bytes. */
        public Lsn dataEnd() {
            return dataStart.plus(data.remaining());
        }

        public byte[] bytes() {
            byte[] b = new byte[data.remaining()];
            data.duplicate().get(b);
            return b;
        }
    }

    /** 'k': sender keepalive; {@code replyRequested} asks for an immediate StandbyStatusUpdate. */
    record PrimaryKeepalive(Lsn walEnd, long sendTime, boolean replyRequested) implements ReplicationMessage {
        public char tag() {
            return 'k';
        }
    }

    /** 'r': the receiver's written, flushed and applied positions. */
    record StandbyStatusUpdate(Lsn write, Lsn flush, Lsn apply, long sendTime, boolean replyRequested)
            implements ReplicationMessage {
        public char tag() {
            return 'r';
        }
    }

    /** 'h': hot standby feedback (xmin 0 means none). */
    record HotStandbyFeedback(long sendTime, int xmin, int xminEpoch, int catalogXmin, int catalogXminEpoch)
            implements ReplicationMessage {
        public char tag() {
            return 'h';
        }
    }
}
