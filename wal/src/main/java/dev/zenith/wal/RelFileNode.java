package dev.zenith.wal;

/**
 * Physical identity of a relation's files (PostgreSQL 15's RelFileNode): tablespace OID,
 * database OID (0 for shared relations) and relfilenode number.
 */
public record RelFileNode(int spcOid, int dbOid, int relNode) {
    /** pg_default and pg_global tablespace OIDs. */
    public static final int DEFAULT_TABLESPACE = 1663;
    public static final int GLOBAL_TABLESPACE = 1664;

    @Override
    public String toString() {
        return Integer.toUnsignedString(spcOid) + "/" + Integer.toUnsignedString(dbOid) + "/"
                + Integer.toUnsignedString(relNode);
    }
}
