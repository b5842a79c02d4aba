package dev.zenith.server.replication;

import dev.zenith.wal.Lsn;
import io.netty.buffer.Unpooled;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.internal.buffer.BufferInternal;

import java.nio.ByteBuffer;
import java.util.List;

/**
 * The two CopyData messages that carry bulk bytes (XLogData, base backup archive data) as a small
 * header plus the payload array wrapped, not copied: the generic encoders copy a payload several
 * times (message record, encoder buffer, drained array, Vert.x buffer), which showed in throughput.
 * The bytes are exactly those of {@code BackendEncoder}/{@code ReplicationCodec} (WireFramesTest).
 */
final class WireFrames {
    /** CopyData type byte, then the length of everything after it including the length itself. */
    private static final byte COPY_DATA = 'd';

    private WireFrames() {
    }

    /** CopyData('w' XLogData: start, walEnd, sendTime, data) — header and wrapped data. */
    static Buffer[] xlogData(Lsn start, Lsn walEnd, long sendTime, byte[] data, int off, int len) {
        return xlogData(start, walEnd, sendTime, List.of(ByteBuffer.wrap(data, off, len)));
    }

    /** XLogData whose data is the pieces one after another (heap buffers, wrapped, not copied). */
    static Buffer[] xlogData(Lsn start, Lsn walEnd, long sendTime, List<ByteBuffer> pieces) {
        int len = 0;
        for (ByteBuffer p : pieces) {
            len += p.remaining();
        }
        ByteBuffer h = ByteBuffer.allocate(30);
        h.put(COPY_DATA).putInt(4 + 25 + len).put((byte) 'w').putLong(start.value()).putLong(walEnd.value())
                .putLong(sendTime);
        Buffer[] frames = new Buffer[1 + pieces.size()];
        frames[0] = wrap(h.array(), 0, 30);
        for (int i = 0; i < pieces.size(); i++) {
            ByteBuffer p = pieces.get(i);
            frames[i + 1] = wrap(p.array(), p.arrayOffset() + p.position(), p.remaining());
        }
        return frames;
    }

    /** CopyData('d' archive or manifest data) — header and wrapped data. */
    static Buffer[] archiveData(byte[] data, int off, int len) {
        ByteBuffer h = ByteBuffer.allocate(6);
        h.put(COPY_DATA).putInt(4 + 1 + len).put((byte) 'd');
        return new Buffer[] {wrap(h.array(), 0, 6), wrap(data, off, len)};
    }

    /** A Vert.x buffer over the array itself; the array must not change until written. */
    static Buffer wrap(byte[] data, int off, int len) {
        return BufferInternal.buffer(Unpooled.wrappedBuffer(data, off, len));
    }
}
