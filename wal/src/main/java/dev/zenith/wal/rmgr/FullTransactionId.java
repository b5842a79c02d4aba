package dev.zenith.wal.rmgr;

/** A 64-bit transaction id: epoch in the high 32 bits, xid in the low 32 (access/transam.h). */
public record FullTransactionId(long value) {
    public long epoch() {
        return value >>> 32;
    }

    public long xid() {
        return value & 0xFFFFFFFFL;
    }

    @Override
    public String toString() {
        return epoch() + ":" + xid();
    }
}
