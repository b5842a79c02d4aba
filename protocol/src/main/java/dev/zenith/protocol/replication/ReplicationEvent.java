package dev.zenith.protocol.replication;

import dev.zenith.protocol.wire.ErrorFields;
import dev.zenith.wal.Lsn;

import java.nio.ByteBuffer;

/** What {@link PhysicalReplicationClient} reports as server bytes arrive. */
public sealed interface ReplicationEvent {

    /** Authentication succeeded and the server is ready; server parameters are in {@link PhysicalReplicationClient#serverParameters()}. */
    record Connected(int processId, int secretKey) implements ReplicationEvent {
    }

    /** IDENTIFY_SYSTEM's answer. {@code dbname} is null for a physical connection. */
    record SystemIdentified(String systemId, int timeline, Lsn xlogPos, String dbname) implements ReplicationEvent {
    }

    /** CREATE_REPLICATION_SLOT succeeded ({@code created}) or the slot already existed (SQLSTATE 42710). */
    record SlotReady(String slotName, boolean created, Lsn consistentPoint) implements ReplicationEvent {
    }

    /** START_REPLICATION was accepted (CopyBothResponse): WAL follows. */
    record StreamingStarted(Lsn startLsn, int timeline) implements ReplicationEvent {
    }

    /** WAL bytes from {@code startLsn}; {@code serverWalEnd} is the server's end of WAL when it sent them. */
    record WalData(Lsn startLsn, ByteBuffer data, Lsn serverWalEnd, long sendTime) implements ReplicationEvent {
        public WalData {
            data = data.asReadOnlyBuffer();
        }

        /** A fresh read-only view each call, so reading it never changes this event. */
        @Override
        public ByteBuffer data() {
            return data.duplicate();
        }

        public byte[] bytes() {
            byte[] b = new byte[data.remaining()];
            data.duplicate().get(b);
            return b;
        }

        public Lsn endLsn() {
            return startLsn.plus(data.remaining());
        }
    }

    record Keepalive(Lsn walEnd, long sendTime, boolean replyRequested) implements ReplicationEvent {
    }

    /** The server ended streaming (CopyDone). {@code nextTimeline}/{@code nextTimelineStart} are set when it switched timelines. */
    record EndOfStreaming(Integer nextTimeline, Lsn nextTimelineStart) implements ReplicationEvent {
    }

    /** A NoticeResponse; informational. */
    record Notice(ErrorFields fields) implements ReplicationEvent {
    }

    /** The server sent an ErrorResponse; the client is now failed. */
    record ServerError(ErrorFields fields) implements ReplicationEvent {
    }

    /** Malformed or unexpected bytes, or an authentication failure; the client is now failed. */
    record ProtocolError(String sqlState, String message) implements ReplicationEvent {
    }
}
