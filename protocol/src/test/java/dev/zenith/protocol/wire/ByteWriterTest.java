package dev.zenith.protocol.wire;

import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class ByteWriterTest {
    private static final byte[] PAGE = new byte[8192];

    static {
        for (int i = 0; i < PAGE.length; i++) {
            PAGE[i] = (byte) (i * 31 + 7);
        }
    }

    /** Three messages, the middle one's body written later: what a page service sends for two answers and an end. */
    private static ByteWriter writeLater(ByteWriter w) {
        w.begin('d').int8(102).later(PAGE.length, t -> t.put(PAGE)).finish();
        w.begin('d').int8(101).int32(5).finish();
        w.begin('d').int8(102).later(PAGE.length, t -> t.put(PAGE)).int8(9).finish();
        return w;
    }

    private static byte[] writeAtOnce() {
        ByteWriter w = new ByteWriter();
        w.begin('d').int8(102).bytes(PAGE).finish();
        w.begin('d').int8(101).int32(5).finish();
        w.begin('d').int8(102).bytes(PAGE).int8(9).finish();
        return w.toByteArray();
    }

    @Test
    void bytesWrittenLaterCountInTheirMessageAndComeOutInPlace() {
        byte[] expected = writeAtOnce();
        ByteWriter w = writeLater(new ByteWriter());
        assertEquals(expected.length, w.size());
        assertArrayEquals(expected, w.toByteArray());

        // A sink with room of its own gets the later bytes written into it, in order between the array pieces.
        ByteBuffer direct = ByteBuffer.allocateDirect(expected.length);
        List<String> calls = new ArrayList<>();
        w.copyTo(new ByteWriter.Sink() {
            @Override
            public void write(byte[] b, int off, int n) {
                calls.add("write " + n);
                direct.put(b, off, n);
            }

            @Override
            public void later(int length, ByteWriter.Filler filler) {
                calls.add("later " + length);
                ByteWriter.fillExactly(direct, length, filler);
            }
        });
        assertEquals(List.of("write 6", "later 8192", "write 16", "later 8192", "write 1"), calls);
        byte[] got = new byte[expected.length];
        direct.flip().get(got);
        assertArrayEquals(expected, got);

        // A sink that takes arrays only gets the same bytes; reset forgets the promises.
        ByteBuffer plain = ByteBuffer.allocate(expected.length);
        w.copyTo((b, off, n) -> plain.put(b, off, n));
        assertArrayEquals(expected, plain.array());
        w.reset();
        assertEquals(0, w.size());
        assertArrayEquals(new byte[0], w.toByteArray());
    }

    @Test
    void aFillerThatWritesTooLittleOrTooMuchIsCaught() {
        ByteWriter shortOne = new ByteWriter();
        shortOne.begin('d').later(10, t -> t.put(new byte[9])).finish();
        assertThrows(IllegalStateException.class, shortOne::toByteArray);
        ByteWriter longOne = new ByteWriter();
        longOne.begin('d').later(10, t -> t.put(new byte[11])).finish();
        assertThrows(java.nio.BufferOverflowException.class, longOne::toByteArray);
    }
}
