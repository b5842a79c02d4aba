package dev.zenith.storage.lmdb;

import jnr.ffi.Pointer;
import jnr.ffi.Runtime;
import jnr.ffi.provider.MemoryManager;
import org.lmdbjava.BufferProxy;
import org.lmdbjava.ByteArrayProxy;

import java.util.Comparator;

/**
 * lmdbjava's {@code byte[]} proxy, with the native copy of each key and value kept reachable until
 * the LMDB call that reads it has returned.
 *
 * <p>lmdbjava 0.9.1's {@link ByteArrayProxy} copies a {@code byte[]} into jnr-ffi native memory and
 * hands LMDB only its address; the {@link Pointer} that owns that memory is unreachable from then on,
 * so a garbage collection before or during {@code mdb_put} may free it: LMDB then reads freed memory
 * (a SIGSEGV in {@code mdb_put}, seen under the daemon's frequent young collections, or silently wrong
 * bytes stored). lmdbjava issue #252; fixed upstream after 0.9.1 by returning the pointer to the caller.
 * Here each thread keeps its last {@link #PINNED} pointers: one LMDB call fills at most two values (key
 * and data) on the thread that makes the call, so the current call's memory is always pinned.
 */
public final class PinnedByteArrayProxy extends BufferProxy<byte[]> {
    public static final BufferProxy<byte[]> PROXY = new PinnedByteArrayProxy();

    private static final int PINNED = 8;
    private static final MemoryManager MEMORY = Runtime.getSystemRuntime().getMemoryManager();
    private static final ThreadLocal<Ring> RECENT = ThreadLocal.withInitial(Ring::new);

    private static final class Ring {
        final Pointer[] pointers = new Pointer[PINNED];
        int next;

        void pin(Pointer p) {
            pointers[next] = p;
            next = (next + 1) % PINNED;
        }
    }

    private PinnedByteArrayProxy() {
    }

    @Override
    protected byte[] allocate() {
        return new byte[0];
    }

    @Override
    protected void deallocate(byte[] buffer) {
        // nothing: byte arrays are the garbage collector's
    }

    @Override
    protected byte[] getBytes(byte[] buffer) {
        return buffer.clone();
    }

    @Override
    protected Comparator<byte[]> getSignedComparator() {
        return ByteArrayProxy::compareArraysSigned;
    }

    @Override
    protected Comparator<byte[]> getUnsignedComparator() {
        return ByteArrayProxy::compareArrays;
    }

    @Override
    protected void in(byte[] buffer, Pointer ptr, long ptrAddr) {
        Pointer copy = MEMORY.allocateDirect(buffer.length);
        copy.put(0, buffer, 0, buffer.length);
        RECENT.get().pin(copy);
        ptr.putLong(STRUCT_FIELD_OFFSET_SIZE, buffer.length);
        ptr.putAddress(STRUCT_FIELD_OFFSET_DATA, copy.address());
    }

    @Override
    protected void in(byte[] buffer, int size, Pointer ptr, long ptrAddr) {
        // MDB_RESERVE is not used with byte arrays
    }

    @Override
    protected byte[] out(byte[] buffer, Pointer ptr, long ptrAddr) {
        long address = ptr.getAddress(STRUCT_FIELD_OFFSET_DATA);
        int size = (int) ptr.getLong(STRUCT_FIELD_OFFSET_SIZE);
        byte[] bytes = new byte[size];
        MEMORY.newPointer(address, size).get(0, bytes, 0, size);
        return bytes;
    }
}
