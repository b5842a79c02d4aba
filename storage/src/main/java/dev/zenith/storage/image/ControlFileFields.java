package dev.zenith.storage.image;

import dev.zenith.storage.StoreException;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The few pg_control fields the store itself needs (PostgreSQL 15 ControlFileData, x86-64/arm64
 * layout). The wal module owns the full parser; this only checks the file is what we expect and
 * tells whether data checksums are on.
 */
record ControlFileFields(int dataChecksumVersion) {
    private static final int PG_CONTROL_VERSION = 1300;
    private static final int OFF_CONTROL_VERSION = 8;
    private static final int OFF_FLOAT_FORMAT = 208;
    private static final int OFF_BLCKSZ = 216;
    private static final int OFF_RELSEG_SIZE = 220;
    private static final int OFF_DATA_CHECKSUM_VERSION = 252;

    static ControlFileFields parse(byte[] pgControl) {
        if (pgControl.length < OFF_DATA_CHECKSUM_VERSION + 4) {
            throw new StoreException("pg_control is too short (" + pgControl.length + " bytes)");
        }
        ByteBuffer b = ByteBuffer.wrap(pgControl).order(ByteOrder.LITTLE_ENDIAN);
        int version = b.getInt(OFF_CONTROL_VERSION);
        if (version != PG_CONTROL_VERSION || b.getDouble(OFF_FLOAT_FORMAT) != 1234567.0) {
            throw new StoreException("pg_control is not PostgreSQL 15's (pg_control_version " + version + ")");
        }
        if (b.getInt(OFF_BLCKSZ) != 8192 || b.getInt(OFF_RELSEG_SIZE) != 131072) {
            throw new StoreException("unsupported block size " + b.getInt(OFF_BLCKSZ) + " or segment size "
                    + b.getInt(OFF_RELSEG_SIZE));
        }
        return new ControlFileFields(b.getInt(OFF_DATA_CHECKSUM_VERSION));
    }

    boolean checksumsEnabled() {
        return dataChecksumVersion != 0;
    }
}
