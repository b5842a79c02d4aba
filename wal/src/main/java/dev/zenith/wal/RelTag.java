package dev.zenith.wal;

import java.util.Comparator;

/** One fork of one relation: what a block number is relative to. */
public record RelTag(RelFileNode node, ForkNumber fork) {
    /** PostgreSQL's order of relation forks: tablespace, database, relation (OIDs unsigned), then fork. */
    public static final Comparator<RelTag> ORDER = RelTag::compare;

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

    /** Written out (see {@link RelFileNode#hashCode}): the fork by its number, not the enum's identity. */
    @Override
    public int hashCode() {
        return node.hashCode() * 31 + fork.id();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof RelTag t && t.fork == fork && t.node.equals(node);
    }

    private static int compare(RelTag a, RelTag b) {
        int c = Integer.compareUnsigned(a.node().spcOid(), b.node().spcOid());
        if (c == 0) {
            c = Integer.compareUnsigned(a.node().dbOid(), b.node().dbOid());
        }
        if (c == 0) {
            c = Integer.compareUnsigned(a.node().relNode(), b.node().relNode());
        }
        return c != 0 ? c : Integer.compare(a.fork().id(), b.fork().id());
    }
}
