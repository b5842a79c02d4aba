package dev.zenith.protocol.pagestream;

import dev.zenith.wal.ForkNumber;
import dev.zenith.wal.RelTag;

/**
 * A relation fork as a request names it: tablespace, database and relfilenode (u32 each) and the fork
 * (u8), exactly as sent. The fork is not checked when decoding (Neon does not either): a request for
 * fork 9 is well formed and gets an error answer, not a broken connection.
 */
public record RelationKey(int spcNode, int dbNode, int relNode, int forkNumber) {
    public static RelationKey of(RelTag rel) {
        return new RelationKey(rel.node().spcOid(), rel.node().dbOid(), rel.node().relNode(), rel.fork().id());
    }

    /** The relation fork; IllegalArgumentException naming the fork when it is not 0..3. */
    public RelTag toRelTag() {
        return RelTag.of(spcNode, dbNode, relNode, ForkNumber.of(forkNumber));
    }

    @Override
    public String toString() {
        return Integer.toUnsignedString(spcNode) + "/" + Integer.toUnsignedString(dbNode) + "/"
                + Integer.toUnsignedString(relNode) + "." + forkNumber;
    }
}
