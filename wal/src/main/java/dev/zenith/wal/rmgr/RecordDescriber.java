package dev.zenith.wal.rmgr;

import dev.zenith.wal.ForkNumber;
import dev.zenith.wal.RelFileNode;
import dev.zenith.wal.RelTag;
import dev.zenith.wal.bytes.LittleEndian;
import dev.zenith.wal.record.DecodedRecord;
import dev.zenith.wal.record.ResourceManager;

import java.util.Optional;

/**
 * pg_waldump's "desc:" text: the rmgr's identify() name and, for the records decoded here, the same
 * description PostgreSQL's rmgrdesc prints (possibly a prefix of it, e.g. commits stop after the
 * dropped relations). Unknown identities give null, descriptions of other records are empty.
 */
public final class RecordDescriber {
    private static final String[] XLOG = names(0x00, "CHECKPOINT_SHUTDOWN", 0x10, "CHECKPOINT_ONLINE", 0x20, "NOOP",
            0x30, "NEXTOID", 0x40, "SWITCH", 0x50, "BACKUP_END", 0x60, "PARAMETER_CHANGE", 0x70, "RESTORE_POINT",
            0x80, "FPW_CHANGE", 0x90, "END_OF_RECOVERY", 0xA0, "FPI_FOR_HINT", 0xB0, "FPI", 0xD0,
            "OVERWRITE_CONTRECORD");
    private static final String[] XACT = names(0x00, "COMMIT", 0x10, "PREPARE", 0x20, "ABORT", 0x30,
            "COMMIT_PREPARED", 0x40, "ABORT_PREPARED", 0x50, "ASSIGNMENT", 0x60, "INVALIDATION");
    private static final String[] SMGR = names(0x10, "CREATE", 0x20, "TRUNCATE");
    private static final String[] CLOG = names(0x00, "ZEROPAGE", 0x10, "TRUNCATE");
    private static final String[] DBASE = names(0x00, "CREATE_FILE_COPY", 0x10, "CREATE_WAL_LOG", 0x20, "DROP");
    private static final String[] RELMAP = names(0x00, "UPDATE");
    private static final String[] STANDBY = names(0x00, "LOCK", 0x10, "RUNNING_XACTS", 0x20, "INVALIDATIONS");
    private static final String[] HEAP = names(0x00, "INSERT", 0x10, "DELETE", 0x20, "UPDATE", 0x30, "TRUNCATE",
            0x40, "HOT_UPDATE", 0x50, "CONFIRM", 0x60, "LOCK", 0x70, "INPLACE", 0x80, "INSERT+INIT", 0xA0,
            "UPDATE+INIT", 0xC0, "HOT_UPDATE+INIT");
    private static final String[] HEAP2 = names(0x00, "REWRITE", 0x10, "PRUNE", 0x20, "VACUUM", 0x30, "FREEZE_PAGE",
            0x40, "VISIBLE", 0x50, "MULTI_INSERT", 0xD0, "MULTI_INSERT+INIT", 0x60, "LOCK_UPDATED", 0x70, "NEW_CID");
    private static final String[] BTREE = names(0x00, "INSERT_LEAF", 0x10, "INSERT_UPPER", 0x20, "INSERT_META",
            0x30, "SPLIT_L", 0x40, "SPLIT_R", 0x50, "INSERT_POST", 0x60, "DEDUP", 0x70, "DELETE", 0x80, "UNLINK_PAGE",
            0x90, "UNLINK_PAGE_META", 0xA0, "NEWROOT", 0xB0, "MARK_PAGE_HALFDEAD", 0xC0, "VACUUM", 0xD0, "REUSE_PAGE",
            0xE0, "META_CLEANUP");

    private RecordDescriber() {
    }

    private static String[] names(Object... pairs) {
        String[] t = new String[256];
        for (int i = 0; i < pairs.length; i += 2) {
            t[(Integer) pairs[i]] = (String) pairs[i + 1];
        }
        return t;
    }

    /** The rmgr identify() name (e.g. {@code CHECKPOINT_ONLINE}), or null if not known here. */
    public static String identify(DecodedRecord r) {
        String[] table = switch (r.rmid()) {
            case ResourceManager.XLOG -> XLOG;
            case ResourceManager.XACT -> XACT;
            case ResourceManager.SMGR -> SMGR;
            case ResourceManager.CLOG -> CLOG;
            case ResourceManager.DBASE -> DBASE;
            case ResourceManager.RELMAP -> RELMAP;
            case ResourceManager.STANDBY -> STANDBY;
            case ResourceManager.HEAP -> HEAP;
            case ResourceManager.HEAP2 -> HEAP2;
            case ResourceManager.BTREE -> BTREE;
            default -> null;
        };
        if (table == null) {
            return null;
        }
        int info = r.rmgrInfo();
        if (r.rmid() == ResourceManager.XACT) {
            info &= MainDataDecoder.XLOG_XACT_OPMASK;
        }
        String id = table[info];
        return id != null ? id : "UNKNOWN (" + Integer.toHexString(info) + ")";
    }

    /** The description after the identity, as far as this library decodes it. */
    public static String describe(DecodedRecord r) {
        Optional<WalPayload> payload = MainDataDecoder.decode(r);
        if (payload.isPresent()) {
            WalPayload p = payload.get();
            if (p instanceof CheckpointRecord c) {
                return c.checkpoint().describe(c.shutdown());
            }
            if (p instanceof XactCompletion x) {
                StringBuilder sb = new StringBuilder();
                if (x.twoPhaseXid() != 0) {
                    sb.append(x.twoPhaseXid()).append(": ");
                }
                sb.append(PgTimestamp.format(x.xactTime()));
                if (!x.droppedRelations().isEmpty()) {
                    sb.append("; rels:");
                    for (RelFileNode n : x.droppedRelations()) {
                        sb.append(' ').append(new RelTag(n, ForkNumber.MAIN).path());
                    }
                }
                return sb.toString();
            }
            if (p instanceof SmgrCreate c) {
                return c.rel().path();
            }
            if (p instanceof SmgrTruncate t) {
                return new RelTag(t.rel(), ForkNumber.MAIN).path() + " to " + t.blocks() + " blocks flags " + t.flags();
            }
            if (p instanceof DbaseCreate d) {
                return d.fileCopy()
                        ? "copy dir " + d.srcTablespaceId() + "/" + d.srcDbId() + " to " + d.tablespaceId() + "/" + d.dbId()
                        : "create dir " + d.tablespaceId() + "/" + d.dbId();
            }
            if (p instanceof DbaseDrop d) {
                StringBuilder sb = new StringBuilder("dir");
                for (long spc : d.tablespaceIds()) {
                    sb.append(' ').append(spc).append('/').append(d.dbId());
                }
                return sb.toString();
            }
            if (p instanceof RelmapUpdate m) {
                return "database " + m.dbId() + " tablespace " + m.tablespaceId() + " size " + m.mapFile().length;
            }
            return "";
        }
        if (r.rmid() == ResourceManager.XLOG && r.rmgrInfo() == 0x30 && r.mainDataLength() >= 4) {
            return Long.toString(LittleEndian.u32(r.rawBytes(), r.mainDataOffset())); // NEXTOID
        }
        return "";
    }
}
