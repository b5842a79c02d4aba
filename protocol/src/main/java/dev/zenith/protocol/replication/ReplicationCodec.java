package dev.zenith.protocol.replication;

import dev.zenith.protocol.replication.ReplicationMessage.*;
import dev.zenith.protocol.wire.ByteReader;
import dev.zenith.protocol.wire.ByteWriter;
import dev.zenith.protocol.wire.ProtocolException;
import dev.zenith.wal.Lsn;

import java.nio.ByteBuffer;

/** Encodes and decodes {@link ReplicationMessage}s to and from CopyData payloads (both directions). */
public final class ReplicationCodec {
    private ReplicationCodec() {
    }

    /** Decodes one CopyData payload. XLogData's data is a read-only view of {@code payload}, not a copy. */
    public static ReplicationMessage decode(byte[] payload) {
        if (payload.length == 0) {
            throw new ProtocolException(ProtocolException.Kind.MALFORMED, "empty replication CopyData message");
        }
        char tag = (char) (payload[0] & 0xFF);
        ByteReader r = new ByteReader(payload, 1, payload.length - 1, "replication message '" + tag + "'");
        ReplicationMessage m;
        switch (tag) {
            case 'w': {
                Lsn start = Lsn.of(r.int64("dataStart"));
                Lsn end = Lsn.of(r.int64("walEnd"));
                long time = r.int64("sendTime");
                int off = payload.length - r.remaining();
                m = new XLogData(start, end, time, ByteBuffer.wrap(payload, off, r.remaining()).slice().asReadOnlyBuffer());
                return m;
            }
            case 'k':
                m = new PrimaryKeepalive(Lsn.of(r.int64("walEnd")), r.int64("sendTime"), bool(r));
                break;
            case 'r':
                m = new StandbyStatusUpdate(Lsn.of(r.int64("write")), Lsn.of(r.int64("flush")),
                        Lsn.of(r.int64("apply")), r.int64("sendTime"), bool(r));
                break;
            case 'h':
                m = new HotStandbyFeedback(r.int64("sendTime"), r.int32("xmin"), r.int32("xmin epoch"),
                        r.int32("catalog xmin"), r.int32("catalog xmin epoch"));
                break;
            default:
                throw new ProtocolException(ProtocolException.Kind.UNKNOWN_TYPE,
                        "unknown replication message type '" + (tag >= 0x20 && tag < 0x7F ? String.valueOf(tag)
                                : String.format("\\x%02x", (int) tag)) + "'");
        }
        r.end();
        return m;
    }

    private static boolean bool(ByteReader r) {
        byte b = r.int8("reply flag");
        if (b != 0 && b != 1) {
            throw r.malformed("reply flag must be 0 or 1, got " + b);
        }
        return b == 1;
    }

    /** The CopyData payload for {@code m}. */
    public static byte[] encode(ReplicationMessage m) {
        ByteWriter w = new ByteWriter();
        w.int8(m.tag());
        if (m instanceof XLogData x) {
            w.int64(x.dataStart().value()).int64(x.walEnd().value()).int64(x.sendTime());
            ByteBuffer d = x.data().duplicate();
            byte[] b = new byte[d.remaining()];
            d.get(b);
            w.bytes(b);
        } else if (m instanceof PrimaryKeepalive k) {
            w.int64(k.walEnd().value()).int64(k.sendTime()).int8(k.replyRequested() ? 1 : 0);
        } else if (m instanceof StandbyStatusUpdate s) {
            w.int64(s.write().value()).int64(s.flush().value()).int64(s.apply().value()).int64(s.sendTime())
                    .int8(s.replyRequested() ? 1 : 0);
        } else if (m instanceof HotStandbyFeedback h) {
            w.int64(h.sendTime()).int32(h.xmin()).int32(h.xminEpoch()).int32(h.catalogXmin())
                    .int32(h.catalogXminEpoch());
        }
        return w.toByteArray();
    }
}
