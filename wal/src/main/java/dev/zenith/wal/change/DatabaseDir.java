package dev.zenith.wal.change;

/** One database's directory in one tablespace (base/DB, global when spc is pg_global, or under pg_tblspc). */
public record DatabaseDir(int spcOid, int dbOid) {
}
