package dev.zenith.wal.rmgr;

import dev.zenith.wal.ForkNumber;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.RelFileNode;
import dev.zenith.wal.RelTag;
import dev.zenith.wal.bytes.LittleEndian;
import dev.zenith.wal.record.DecodedRecord;
import dev.zenith.wal.record.ResourceManager;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/** Decodes the main data of the records the store needs; every other record gives empty. */
public final class MainDataDecoder {
    public static final int XLOG_CHECKPOINT_SHUTDOWN = 0x00;
    public static final int XLOG_CHECKPOINT_ONLINE = 0x10;
    public static final int XLOG_SWITCH = 0x40;
    public static final int XLOG_FPI_FOR_HINT = 0xA0;
    public static final int XLOG_FPI = 0xB0;
    public static final int XLOG_XACT_COMMIT = 0x00;
    public static final int XLOG_XACT_ABORT = 0x20;
    public static final int XLOG_XACT_COMMIT_PREPARED = 0x30;
    public static final int XLOG_XACT_ABORT_PREPARED = 0x40;
    public static final int XLOG_XACT_OPMASK = 0x70;
    public static final int XLOG_XACT_HAS_INFO = 0x80;
    public static final int XLOG_SMGR_CREATE = 0x10;
    public static final int XLOG_SMGR_TRUNCATE = 0x20;
    public static final int XLOG_DBASE_CREATE_FILE_COPY = 0x00;
    public static final int XLOG_DBASE_CREATE_WAL_LOG = 0x10;
    public static final int XLOG_DBASE_DROP = 0x20;
    public static final int XLOG_RELMAP_UPDATE = 0x00;

    static final int XACT_XINFO_HAS_DBINFO = 1;
    static final int XACT_XINFO_HAS_SUBXACTS = 1 << 1;
    static final int XACT_XINFO_HAS_RELFILENODES = 1 << 2;
    static final int XACT_XINFO_HAS_INVALS = 1 << 3;
    static final int XACT_XINFO_HAS_TWOPHASE = 1 << 4;
    static final int XACT_XINFO_HAS_ORIGIN = 1 << 5;
    static final int XACT_XINFO_HAS_GID = 1 << 7;
    static final int XACT_XINFO_HAS_DROPPED_STATS = 1 << 8;

    private MainDataDecoder() {
    }

    /**
     * @throws IllegalArgumentException if a record of a decoded kind has main data too short for its struct
     */
    public static Optional<WalPayload> decode(DecodedRecord r) {
        byte[] b = r.rawBytes();
        int off = r.mainDataOffset();
        int len = r.mainDataLength();
        int info = r.rmgrInfo();
        try {
            switch (r.rmid()) {
                case ResourceManager.XLOG:
                    if (info == XLOG_CHECKPOINT_SHUTDOWN || info == XLOG_CHECKPOINT_ONLINE) {
                        need(len, CheckPoint.SIZE - 4, r);
                        return Optional.of(new CheckpointRecord(info == XLOG_CHECKPOINT_SHUTDOWN,
                                CheckPoint.read(Arrays.copyOfRange(b, off, off + CheckPoint.SIZE), 0)));
                    }
                    if (info == XLOG_SWITCH) {
                        return Optional.of(new XlogSwitch());
                    }
                    if (info == XLOG_FPI || info == XLOG_FPI_FOR_HINT) {
                        return Optional.of(new FullPageImageRecord(info == XLOG_FPI_FOR_HINT));
                    }
                    return Optional.empty();
                case ResourceManager.XACT:
                    return xact(r, b, off, len);
                case ResourceManager.SMGR:
                    if (info == XLOG_SMGR_CREATE) {
                        need(len, 16, r);
                        return Optional.of(new SmgrCreate(new RelTag(relFileNode(b, off),
                                ForkNumber.of(LittleEndian.i32(b, off + 12)))));
                    }
                    if (info == XLOG_SMGR_TRUNCATE) {
                        need(len, 20, r);
                        return Optional.of(new SmgrTruncate(relFileNode(b, off + 4), LittleEndian.u32(b, off),
                                LittleEndian.i32(b, off + 16)));
                    }
                    return Optional.empty();
                case ResourceManager.DBASE:
                    if (info == XLOG_DBASE_CREATE_FILE_COPY) {
                        need(len, 16, r);
                        return Optional.of(new DbaseCreate(true, LittleEndian.u32(b, off), LittleEndian.u32(b, off + 4),
                                LittleEndian.u32(b, off + 8), LittleEndian.u32(b, off + 12)));
                    }
                    if (info == XLOG_DBASE_CREATE_WAL_LOG) {
                        need(len, 8, r);
                        return Optional.of(new DbaseCreate(false, LittleEndian.u32(b, off),
                                LittleEndian.u32(b, off + 4), 0, 0));
                    }
                    if (info == XLOG_DBASE_DROP) {
                        need(len, 8, r);
                        int n = LittleEndian.i32(b, off + 4);
                        need(len, 8 + 4L * n, r);
                        List<Long> spcs = new ArrayList<>(n);
                        for (int i = 0; i < n; i++) {
                            spcs.add(LittleEndian.u32(b, off + 8 + 4 * i));
                        }
                        return Optional.of(new DbaseDrop(LittleEndian.u32(b, off), List.copyOf(spcs)));
                    }
                    return Optional.empty();
                case ResourceManager.RELMAP:
                    if (info == XLOG_RELMAP_UPDATE) {
                        need(len, 12, r);
                        int n = LittleEndian.i32(b, off + 8);
                        need(len, 12L + n, r);
                        return Optional.of(new RelmapUpdate(LittleEndian.u32(b, off), LittleEndian.u32(b, off + 4),
                                Arrays.copyOfRange(b, off + 12, off + 12 + n)));
                    }
                    return Optional.empty();
                default:
                    return Optional.empty();
            }
        } catch (ArrayIndexOutOfBoundsException | IllegalArgumentException e) {
            throw new IllegalArgumentException("malformed main data in " + r + ": " + e.getMessage(), e);
        }
    }

    private static Optional<WalPayload> xact(DecodedRecord r, byte[] b, int off, int len) {
        int op = r.rmgrInfo() & XLOG_XACT_OPMASK;
        XactCompletion.Kind kind;
        switch (op) {
            case XLOG_XACT_COMMIT -> kind = XactCompletion.Kind.COMMIT;
            case XLOG_XACT_ABORT -> kind = XactCompletion.Kind.ABORT;
            case XLOG_XACT_COMMIT_PREPARED -> kind = XactCompletion.Kind.COMMIT_PREPARED;
            case XLOG_XACT_ABORT_PREPARED -> kind = XactCompletion.Kind.ABORT_PREPARED;
            default -> {
                return Optional.empty();
            }
        }
        final int end = off + len;
        need(len, 8, r);
        long xactTime = LittleEndian.i64(b, off);
        int p = off + 8;
        int xinfo = 0;
        if ((r.rmgrInfo() & XLOG_XACT_HAS_INFO) != 0) {
            xinfo = LittleEndian.i32(b, p);
            p += 4;
        }
        long dbId = 0;
        long tsId = 0;
        if ((xinfo & XACT_XINFO_HAS_DBINFO) != 0) {
            dbId = LittleEndian.u32(b, p);
            tsId = LittleEndian.u32(b, p + 4);
            p += 8;
        }
        long[] subxacts = new long[0];
        if ((xinfo & XACT_XINFO_HAS_SUBXACTS) != 0) {
            int n = count(b, p, end);
            subxacts = new long[n];
            for (int i = 0; i < n; i++) {
                subxacts[i] = LittleEndian.u32(b, p + 4 + 4 * i);
            }
            p += 4 + 4 * n;
        }
        List<RelFileNode> rels = List.of();
        if ((xinfo & XACT_XINFO_HAS_RELFILENODES) != 0) {
            int n = count(b, p, end);
            List<RelFileNode> list = new ArrayList<>(n);
            for (int i = 0; i < n; i++) {
                list.add(relFileNode(b, p + 4 + 12 * i));
            }
            rels = List.copyOf(list);
            p += 4 + 12 * n;
        }
        int droppedStats = 0;
        if ((xinfo & XACT_XINFO_HAS_DROPPED_STATS) != 0) {
            droppedStats = count(b, p, end);
            p += 4 + 12 * droppedStats; // xl_xact_stats_item: kind, dboid, objoid
        }
        int invals = 0;
        if (kind.isCommit() && (xinfo & XACT_XINFO_HAS_INVALS) != 0) {
            invals = count(b, p, end);
            p += 4 + 16 * invals; // SharedInvalidationMessage
        }
        long twoPhaseXid = 0;
        String gid = null;
        if ((xinfo & XACT_XINFO_HAS_TWOPHASE) != 0) {
            twoPhaseXid = LittleEndian.u32(b, p);
            p += 4;
            if ((xinfo & XACT_XINFO_HAS_GID) != 0) {
                int z = p;
                while (z < end && b[z] != 0) {
                    z++;
                }
                gid = new String(b, p, z - p, java.nio.charset.StandardCharsets.UTF_8);
                p = z + 1;
            }
        }
        Lsn originLsn = null;
        long originTs = 0;
        if ((xinfo & XACT_XINFO_HAS_ORIGIN) != 0 && p + 16 <= end) {
            originLsn = Lsn.of(LittleEndian.i64(b, p));
            originTs = LittleEndian.i64(b, p + 8);
        }
        if (p > end) {
            throw new IllegalArgumentException("xact main data shorter than its xinfo 0x" + Integer.toHexString(xinfo)
                    + " says");
        }
        return Optional.of(new XactCompletion(kind, xactTime, xinfo, dbId, tsId, subxacts, rels, droppedStats, invals,
                twoPhaseXid, gid, originLsn, originTs));
    }

    private static int count(byte[] b, int p, int end) {
        int n = LittleEndian.i32(b, p);
        if (n < 0 || n > (end - p) / 4) {
            throw new IllegalArgumentException("count " + n + " at offset " + p + " exceeds main data");
        }
        return n;
    }

    private static RelFileNode relFileNode(byte[] b, int off) {
        return new RelFileNode(LittleEndian.i32(b, off), LittleEndian.i32(b, off + 4), LittleEndian.i32(b, off + 8));
    }

    private static void need(int len, long wanted, DecodedRecord r) {
        if (len < wanted) {
            throw new IllegalArgumentException("main data of " + r + " is " + len + " bytes, needs " + wanted);
        }
    }
}
