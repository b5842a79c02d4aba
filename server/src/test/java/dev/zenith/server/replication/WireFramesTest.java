package dev.zenith.server.replication;

import dev.zenith.protocol.replication.ReplicationCodec;
import dev.zenith.protocol.replication.ReplicationMessage;
import dev.zenith.protocol.wire.BackendEncoder;
import dev.zenith.protocol.wire.BackendMessage;
import dev.zenith.wal.Lsn;
import io.vertx.core.buffer.Buffer;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

/** The hand-framed bulk messages are byte for byte what the protocol module's encoders produce. */
class WireFramesTest {
    private final byte[] data = new byte[200_000];

    WireFramesTest() {
        new Random(42).nextBytes(data);
    }

    @Test
    void xlogDataMatchesTheProtocolEncoder() {
        Lsn start = Lsn.parse("1/2000010");
        Lsn end = Lsn.parse("1/3000000");
        long sendTime = 817_000_123_456L;
        byte[] expected = BackendEncoder.encode(new BackendMessage.CopyData(ReplicationCodec.encode(
                new ReplicationMessage.XLogData(start, end, sendTime, ByteBuffer.wrap(data, 1000, 131072)))));
        assertArrayEquals(expected, concat(WireFrames.xlogData(start, end, sendTime, data, 1000, 131072)));
    }

    @Test
    void xlogDataFromSlicesIsTheSameMessage() {
        Lsn start = Lsn.parse("1/2000010");
        Lsn end = Lsn.parse("1/3000000");
        long sendTime = 817_000_123_456L;
        // slices of arrays that hold other bytes around them, as the store's chunks do
        List<ByteBuffer> pieces = List.of(ByteBuffer.wrap(data, 1000, 100).slice(),
                ByteBuffer.wrap(data, 1100, 70_000).slice(), ByteBuffer.wrap(data, 71_100, 60_972).slice());
        assertArrayEquals(concat(WireFrames.xlogData(start, end, sendTime, data, 1000, 131072)),
                concat(WireFrames.xlogData(start, end, sendTime, pieces)));
    }

    @Test
    void archiveDataMatchesTheProtocolEncoder() {
        byte[] payload = new byte[1 + 5000];
        payload[0] = 'd';
        System.arraycopy(data, 7, payload, 1, 5000);
        byte[] expected = BackendEncoder.encode(new BackendMessage.CopyData(payload));
        assertArrayEquals(expected, concat(WireFrames.archiveData(data, 7, 5000)));
    }

    private static byte[] concat(Buffer[] parts) {
        Buffer all = Buffer.buffer();
        for (Buffer b : parts) {
            all.appendBuffer(b);
        }
        return all.getBytes();
    }
}
