package dev.zenith.wal.control;

import dev.zenith.wal.Lsn;
import dev.zenith.wal.bytes.LittleEndian;
import dev.zenith.wal.rmgr.CheckPoint;

import java.util.Arrays;
import java.util.zip.CRC32C;

/**
 * pg_control (catalog/pg_control.h ControlFileData, PG_CONTROL_VERSION 1300, x86-64 layout).
 * Immutable: the {@code with...} methods return a copy with a field changed; {@link #toFile()}
 * gives the 8192-byte file with the CRC recomputed. Fields not exposed are kept byte for byte.
 */
public final class ControlFile {
    public static final int PG_CONTROL_VERSION = 1300;
    public static final int PG_CONTROL_FILE_SIZE = 8192;
    /** offsetof(ControlFileData, crc): the CRC covers everything before it. */
    static final int CRC_OFFSET = 288;
    static final int STRUCT_SIZE = 296;

    private static final int SYSTEM_ID = 0;
    private static final int VERSION = 8;
    private static final int CATALOG_VERSION = 12;
    private static final int STATE = 16;
    private static final int TIME = 24;
    private static final int CHECKPOINT = 32;
    private static final int CHECKPOINT_COPY = 40;
    private static final int UNLOGGED_LSN = 128;
    private static final int MIN_RECOVERY_POINT = 136;
    private static final int MIN_RECOVERY_POINT_TLI = 144;
    private static final int BACKUP_START = 152;
    private static final int BACKUP_END = 160;
    private static final int BACKUP_END_REQUIRED = 168;
    private static final int WAL_LEVEL = 172;
    private static final int WAL_LOG_HINTS = 176;
    private static final int MAX_CONNECTIONS = 180;
    private static final int MAX_WORKER_PROCESSES = 184;
    private static final int MAX_WAL_SENDERS = 188;
    private static final int MAX_PREPARED_XACTS = 192;
    private static final int MAX_LOCKS_PER_XACT = 196;
    private static final int TRACK_COMMIT_TIMESTAMP = 200;
    private static final int MAX_ALIGN = 204;
    private static final int BLCKSZ = 216;
    private static final int RELSEG_SIZE = 220;
    private static final int XLOG_BLCKSZ = 224;
    private static final int XLOG_SEG_SIZE = 228;
    private static final int DATA_CHECKSUM_VERSION = 252;
    private static final int MOCK_AUTH_NONCE = 256;

    private final byte[] bytes;

    private ControlFile(byte[] bytes) {
        this.bytes = bytes;
    }

    /**
     * @param file the contents of global/pg_control (at least the struct; normally 8192 bytes)
     * @throws IllegalArgumentException on a wrong version or CRC, as PostgreSQL would refuse it
     */
    public static ControlFile parse(byte[] file) {
        if (file.length < STRUCT_SIZE) {
            throw new IllegalArgumentException("pg_control too short: " + file.length + " bytes");
        }
        ControlFile c = new ControlFile(Arrays.copyOf(file, STRUCT_SIZE));
        if (c.controlVersion() != PG_CONTROL_VERSION) {
            throw new IllegalArgumentException("pg_control version " + c.controlVersion() + ", expected "
                    + PG_CONTROL_VERSION);
        }
        int stored = LittleEndian.i32(file, CRC_OFFSET);
        if (stored != crc(file)) {
            throw new IllegalArgumentException("pg_control CRC mismatch: stored 0x" + Integer.toHexString(stored)
                    + ", calculated 0x" + Integer.toHexString(crc(file)));
        }
        return c;
    }

    private static int crc(byte[] b) {
        CRC32C crc = new CRC32C();
        crc.update(b, 0, CRC_OFFSET);
        return (int) crc.getValue();
    }

    /** The 8192-byte file: the struct with a fresh CRC, then zeros (as WriteControlFile writes it). */
    public byte[] toFile() {
        byte[] out = new byte[PG_CONTROL_FILE_SIZE];
        System.arraycopy(bytes, 0, out, 0, STRUCT_SIZE);
        LittleEndian.put32(out, CRC_OFFSET, crc(out));
        return out;
    }

    private ControlFile edit(java.util.function.Consumer<byte[]> change) {
        byte[] copy = bytes.clone();
        change.accept(copy);
        return new ControlFile(copy);
    }

    public long systemIdentifier() {
        return LittleEndian.i64(bytes, SYSTEM_ID);
    }

    public int controlVersion() {
        return LittleEndian.i32(bytes, VERSION);
    }

    public int catalogVersion() {
        return LittleEndian.i32(bytes, CATALOG_VERSION);
    }

    public DbState state() {
        return DbState.of(LittleEndian.i32(bytes, STATE));
    }

    public ControlFile withState(DbState state) {
        return edit(b -> LittleEndian.put32(b, STATE, state.ordinal()));
    }

    /** pg_time_t of the last pg_control update (Unix seconds). */
    public long time() {
        return LittleEndian.i64(bytes, TIME);
    }

    public ControlFile withTime(long unixSeconds) {
        return edit(b -> LittleEndian.put64(b, TIME, unixSeconds));
    }

    /** Where the latest checkpoint record starts. */
    public Lsn checkPoint() {
        return Lsn.of(LittleEndian.i64(bytes, CHECKPOINT));
    }

    public ControlFile withCheckPoint(Lsn lsn) {
        return edit(b -> LittleEndian.put64(b, CHECKPOINT, lsn.value()));
    }

    public CheckPoint checkPointCopy() {
        return CheckPoint.read(bytes, CHECKPOINT_COPY);
    }

    public ControlFile withCheckPointCopy(CheckPoint cp) {
        return edit(b -> cp.write(b, CHECKPOINT_COPY));
    }

    public Lsn unloggedLsn() {
        return Lsn.of(LittleEndian.i64(bytes, UNLOGGED_LSN));
    }

    public Lsn minRecoveryPoint() {
        return Lsn.of(LittleEndian.i64(bytes, MIN_RECOVERY_POINT));
    }

    public int minRecoveryPointTimeline() {
        return LittleEndian.i32(bytes, MIN_RECOVERY_POINT_TLI);
    }

    public ControlFile withMinRecoveryPoint(Lsn lsn, int timeline) {
        return edit(b -> {
            LittleEndian.put64(b, MIN_RECOVERY_POINT, lsn.value());
            LittleEndian.put32(b, MIN_RECOVERY_POINT_TLI, timeline);
        });
    }

    public Lsn backupStartPoint() {
        return Lsn.of(LittleEndian.i64(bytes, BACKUP_START));
    }

    public Lsn backupEndPoint() {
        return Lsn.of(LittleEndian.i64(bytes, BACKUP_END));
    }

    public boolean backupEndRequired() {
        return bytes[BACKUP_END_REQUIRED] != 0;
    }

    /** Clears the backup fields, as PostgreSQL does when a backup's end has been reached. */
    public ControlFile withoutBackupPoints() {
        return edit(b -> {
            LittleEndian.put64(b, BACKUP_START, 0);
            LittleEndian.put64(b, BACKUP_END, 0);
            b[BACKUP_END_REQUIRED] = 0;
        });
    }

    /** 0 minimal, 1 replica, 2 logical. */
    public int walLevel() {
        return LittleEndian.i32(bytes, WAL_LEVEL);
    }

    public boolean walLogHints() {
        return bytes[WAL_LOG_HINTS] != 0;
    }

    public int maxConnections() {
        return LittleEndian.i32(bytes, MAX_CONNECTIONS);
    }

    public int maxWorkerProcesses() {
        return LittleEndian.i32(bytes, MAX_WORKER_PROCESSES);
    }

    public int maxWalSenders() {
        return LittleEndian.i32(bytes, MAX_WAL_SENDERS);
    }

    public int maxPreparedXacts() {
        return LittleEndian.i32(bytes, MAX_PREPARED_XACTS);
    }

    public int maxLocksPerXact() {
        return LittleEndian.i32(bytes, MAX_LOCKS_PER_XACT);
    }

    public boolean trackCommitTimestamp() {
        return bytes[TRACK_COMMIT_TIMESTAMP] != 0;
    }

    public int maxAlign() {
        return LittleEndian.i32(bytes, MAX_ALIGN);
    }

    public int blockSize() {
        return LittleEndian.i32(bytes, BLCKSZ);
    }

    public int relationSegmentSize() {
        return LittleEndian.i32(bytes, RELSEG_SIZE);
    }

    public int walBlockSize() {
        return LittleEndian.i32(bytes, XLOG_BLCKSZ);
    }

    public int walSegmentSize() {
        return LittleEndian.i32(bytes, XLOG_SEG_SIZE);
    }

    /** 0 when data checksums are off, 1 (PG_DATA_CHECKSUM_VERSION) when on. */
    public int dataChecksumVersion() {
        return LittleEndian.i32(bytes, DATA_CHECKSUM_VERSION);
    }

    public byte[] mockAuthenticationNonce() {
        return Arrays.copyOfRange(bytes, MOCK_AUTH_NONCE, MOCK_AUTH_NONCE + 32);
    }
}
