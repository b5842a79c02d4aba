package dev.zenith.protocol.replication;

import dev.zenith.protocol.replication.ReplicationMessage.*;
import dev.zenith.protocol.wire.ProtocolException;
import dev.zenith.wal.Lsn;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.time.Instant;

import static org.junit.jupiter.api.Assertions.*;

class ReplicationCodecTest {
    @Test
    void roundTripsEveryMessage() {
        XLogData x = new XLogData(Lsn.parse("1/2000000"), Lsn.parse("1/2000010"), 123456789L,
                ByteBuffer.wrap(new byte[] {1, 2, 3}));
        byte[] xb = ReplicationCodec.encode(x);
        assertEquals(1 + 24 + 3, xb.length);
        assertEquals('w', xb[0]);
        XLogData x2 = (XLogData) ReplicationCodec.decode(xb);
        assertEquals(x.dataStart(), x2.dataStart());
        assertEquals(x.walEnd(), x2.walEnd());
        assertEquals(123456789L, x2.sendTime());
        assertArrayEquals(new byte[] {1, 2, 3}, x2.bytes());
        assertEquals(Lsn.parse("1/2000003"), x2.dataEnd());

        PrimaryKeepalive k = new PrimaryKeepalive(Lsn.parse("0/16B3748"), -5L, true);
        assertEquals(1 + 17, ReplicationCodec.encode(k).length);
        assertEquals(k, ReplicationCodec.decode(ReplicationCodec.encode(k)));

        StandbyStatusUpdate s = new StandbyStatusUpdate(Lsn.of(3), Lsn.of(2), Lsn.of(1), 99L, false);
        assertEquals(1 + 33, ReplicationCodec.encode(s).length);
        assertEquals(s, ReplicationCodec.decode(ReplicationCodec.encode(s)));

        HotStandbyFeedback h = new HotStandbyFeedback(7L, 1000, 0, 900, 0);
        assertEquals(1 + 24, ReplicationCodec.encode(h).length);
        assertEquals(h, ReplicationCodec.decode(ReplicationCodec.encode(h)));
    }

    @Test
    void malformedReplicationMessagesAreTypedErrors() {
        assertEquals(ProtocolException.Kind.MALFORMED,
                assertThrows(ProtocolException.class, () -> ReplicationCodec.decode(new byte[] {'k', 0, 0})).kind());
        assertEquals(ProtocolException.Kind.MALFORMED,
                assertThrows(ProtocolException.class, () -> ReplicationCodec.decode(new byte[0])).kind());
        assertEquals(ProtocolException.Kind.UNKNOWN_TYPE,
                assertThrows(ProtocolException.class, () -> ReplicationCodec.decode(new byte[] {'z'})).kind());
        byte[] badFlag = ReplicationCodec.encode(new PrimaryKeepalive(Lsn.of(1), 1, false));
        badFlag[badFlag.length - 1] = 7;
        assertThrows(ProtocolException.class, () -> ReplicationCodec.decode(badFlag));
    }

    @Test
    void timestampsArePostgresMicrosSince2000() {
        assertEquals(0L, PgTime.fromInstant(Instant.parse("2000-01-01T00:00:00Z")));
        assertEquals(1_000_001L, PgTime.fromInstant(Instant.parse("2000-01-01T00:00:01.000001Z")));
        assertEquals(Instant.parse("1999-12-31T23:59:59Z"), PgTime.toInstant(-1_000_000L));
        Instant t = Instant.parse("2026-11-25T14:00:00.123456Z");
        assertEquals(t, PgTime.toInstant(PgTime.fromInstant(t)));
    }
}
