package dev.zenith.wal;

/** One fork of one relation: what a block number is relative to. */
public record RelTag(RelFileNode node, ForkNumber fork) {
    public static RelTag of(int spcOid, int dbOid, int relNode, ForkNumber fork) {
        return new RelTag(new RelFileNode(spcOid, dbOid, relNode), fork);
    }

    /**
     * The file's path relative to the data directory, first segment (PostgreSQL's relpath()),
     * e.g. {@code base/5/16384_fsm} or {@code global/1262}. Other tablespaces live under pg_tblspc.
     */
    public String path() {
        RelFileNode n = node;
        String name = Integer.toUnsignedString(n.relNode()) + fork.fileSuffix();
        if (n.spcOid() == RelFileNode.GLOBAL_TABLESPACE) {
            return "global/" + name;
        }
        if (n.spcOid() == RelFileNode.DEFAULT_TABLESPACE) {
            return "base/" + Integer.toUnsignedString(n.dbOid()) + "/" + name;
        }
        return "pg_tblspc/" + Integer.toUnsignedString(n.spcOid()) + "/PG_15_202209061/"
                + Integer.toUnsignedString(n.dbOid()) + "/" + name;
    }
}
