package dev.zenith.wal.record;

/** PostgreSQL 15's built-in resource managers (access/rmgrlist.h), by id, with pg_waldump's names. */
public final class ResourceManager {
    public static final int XLOG = 0;
    public static final int XACT = 1;
    public static final int SMGR = 2;
    public static final int CLOG = 3;
    public static final int DBASE = 4;
    public static final int TBLSPC = 5;
    public static final int MULTIXACT = 6;
    public static final int RELMAP = 7;
    public static final int STANDBY = 8;
    public static final int HEAP2 = 9;
    public static final int HEAP = 10;
    public static final int BTREE = 11;
    public static final int MAX_BUILTIN_ID = 21;
    public static final int MIN_CUSTOM_ID = 128;

    private static final String[] NAMES = {"XLOG", "Transaction", "Storage", "CLOG", "Database", "Tablespace",
            "MultiXact", "RelMap", "Standby", "Heap2", "Heap", "Btree", "Hash", "Gin", "Gist", "Sequence", "SPGist",
            "BRIN", "CommitTs", "ReplicationOrigin", "Generic", "LogicalMessage"};

    private ResourceManager() {
    }

    /** RmgrIdIsValid: built-in, or in the custom range 128..255. */
    public static boolean isValid(int rmid) {
        return (rmid >= 0 && rmid <= MAX_BUILTIN_ID) || (rmid >= MIN_CUSTOM_ID && rmid <= 255);
    }

    public static String name(int rmid) {
        if (rmid >= 0 && rmid <= MAX_BUILTIN_ID) {
            return NAMES[rmid];
        }
        return String.format("custom%03d", rmid);
    }
}
