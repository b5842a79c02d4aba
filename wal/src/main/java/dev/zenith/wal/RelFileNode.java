package dev.zenith.wal;

/**
 * Physical identity of a relation's files (PostgreSQL 15's RelFileNode): tablespace OID,
 * database OID (0 for shared relations) and relfilenode number.
 */
public record RelFileNode(int spcOid, int dbOid, int relNode) {
    /** pg_default and pg_global tablespace OIDs. */
    public static final int DEFAULT_TABLESPACE = 1663;
    public static final int GLOBAL_TABLESPACE = 1664;

    /**
     * Written out, not the record's: relfilenodes are mostly consecutive numbers, and the record's 31-based
     * combination kept them consecutive, which clusters in open-addressing tables (Map.copyOf's); the
     * record's generated equals also showed in the page service's profile.
     */
    @Override
    public int hashCode() {
        long h = (((long) spcOid * 0x9E3779B97F4A7C15L) ^ dbOid) * 0x9E3779B97F4A7C15L ^ relNode;
        h *= 0x9E3779B97F4A7C15L;
        return (int) (h ^ (h >>> 32));
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof RelFileNode n && n.relNode == relNode && n.dbOid == dbOid && n.spcOid == spcOid;
    }

    @Override
    public String toString() {
        return Integer.toUnsignedString(spcOid) + "/" + Integer.toUnsignedString(dbOid) + "/"
                + Integer.toUnsignedString(relNode);
    }
}
