package dev.zenith.wal.bytes;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;

/** Reads and writes x86-64 (little-endian) integers in byte arrays, the layout of WAL and pg_control. */
public final class LittleEndian {
    private static final VarHandle SHORT = MethodHandles.byteArrayViewVarHandle(short[].class, ByteOrder.LITTLE_ENDIAN);
    private static final VarHandle INT = MethodHandles.byteArrayViewVarHandle(int[].class, ByteOrder.LITTLE_ENDIAN);
    private static final VarHandle LONG = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);

    private LittleEndian() {
    }

    public static int u8(byte[] b, int off) {
        return b[off] & 0xFF;
    }

    public static int u16(byte[] b, int off) {
        return (short) SHORT.get(b, off) & 0xFFFF;
    }

    public static int i32(byte[] b, int off) {
        return (int) INT.get(b, off);
    }

    /** An unsigned 32-bit value (OIDs, xids, block numbers) widened so it never prints negative. */
    public static long u32(byte[] b, int off) {
        return i32(b, off) & 0xFFFFFFFFL;
    }

    public static long i64(byte[] b, int off) {
        return (long) LONG.get(b, off);
    }

    public static void put16(byte[] b, int off, int v) {
        SHORT.set(b, off, (short) v);
    }

    public static void put32(byte[] b, int off, int v) {
        INT.set(b, off, v);
    }

    public static void put64(byte[] b, int off, long v) {
        LONG.set(b, off, v);
    }
}
