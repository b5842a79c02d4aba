package dev.zenith.wal.rmgr;

import dev.zenith.wal.Lsn;
import dev.zenith.wal.bytes.LittleEndian;

/**
 * PostgreSQL's CheckPoint struct (catalog/pg_control.h), the main data of checkpoint records and
 * the checkPointCopy of pg_control. Unsigned 32-bit ids are held in longs. {@code time} is
 * pg_time_t (Unix seconds).
 */
public record CheckPoint(Lsn redo, int thisTimeLineId, int prevTimeLineId, boolean fullPageWrites,
                         FullTransactionId nextXid, long nextOid, long nextMulti, long nextMultiOffset,
                         long oldestXid, long oldestXidDb, long oldestMulti, long oldestMultiDb, long time,
                         long oldestCommitTsXid, long newestCommitTsXid, long oldestActiveXid) {
    /** sizeof(CheckPoint) on x86-64, padding included. */
    public static final int SIZE = 88;

    public static CheckPoint read(byte[] b, int off) {
        return new CheckPoint(Lsn.of(LittleEndian.i64(b, off)), LittleEndian.i32(b, off + 8),
                LittleEndian.i32(b, off + 12), b[off + 16] != 0, new FullTransactionId(LittleEndian.i64(b, off + 24)),
                LittleEndian.u32(b, off + 32), LittleEndian.u32(b, off + 36), LittleEndian.u32(b, off + 40),
                LittleEndian.u32(b, off + 44), LittleEndian.u32(b, off + 48), LittleEndian.u32(b, off + 52),
                LittleEndian.u32(b, off + 56), LittleEndian.i64(b, off + 64), LittleEndian.u32(b, off + 72),
                LittleEndian.u32(b, off + 76), LittleEndian.u32(b, off + 80));
    }

    /** Writes the struct; padding bytes are left as they are (PostgreSQL zeroes them with memset). */
    public void write(byte[] b, int off) {
        LittleEndian.put64(b, off, redo.value());
        LittleEndian.put32(b, off + 8, thisTimeLineId);
        LittleEndian.put32(b, off + 12, prevTimeLineId);
        b[off + 16] = (byte) (fullPageWrites ? 1 : 0);
        LittleEndian.put64(b, off + 24, nextXid.value());
        LittleEndian.put32(b, off + 32, (int) nextOid);
        LittleEndian.put32(b, off + 36, (int) nextMulti);
        LittleEndian.put32(b, off + 40, (int) nextMultiOffset);
        LittleEndian.put32(b, off + 44, (int) oldestXid);
        LittleEndian.put32(b, off + 48, (int) oldestXidDb);
        LittleEndian.put32(b, off + 52, (int) oldestMulti);
        LittleEndian.put32(b, off + 56, (int) oldestMultiDb);
        LittleEndian.put64(b, off + 64, time);
        LittleEndian.put32(b, off + 72, (int) oldestCommitTsXid);
        LittleEndian.put32(b, off + 76, (int) newestCommitTsXid);
        LittleEndian.put32(b, off + 80, (int) oldestActiveXid);
    }

    /** The redo position as pg_waldump prints it, without zero padding. */
    public String describe(boolean shutdown) {
        return "redo " + redo + "; tli " + thisTimeLineId + "; prev tli " + prevTimeLineId + "; fpw "
                + fullPageWrites + "; xid " + nextXid + "; oid " + nextOid + "; multi " + nextMulti + "; offset "
                + nextMultiOffset + "; oldest xid " + oldestXid + " in DB " + oldestXidDb + "; oldest multi "
                + oldestMulti + " in DB " + oldestMultiDb + "; oldest/newest commit timestamp xid: "
                + oldestCommitTsXid + "/" + newestCommitTsXid + "; oldest running xid " + oldestActiveXid + "; "
                + (shutdown ? "shutdown" : "online");
    }
}
