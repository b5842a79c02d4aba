package dev.zenith.storage.page;

import dev.zenith.storage.lmdb.Keys;
import dev.zenith.storage.lmdb.Tables;
import dev.zenith.storage.timeline.Lineage;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.RelTag;
import org.lmdbjava.Cursor;
import org.lmdbjava.Txn;

import java.util.ArrayList;
import java.util.List;

/**
 * "Newest stored version of a block at or below an LSN" over a timeline's lineage, with one open
 * cursor per lineage step so a caller walking many blocks (materialize, import) pays one seek per
 * block and step. Close it before its transaction ends.
 */
public final class PageLookup implements AutoCloseable {
    private final Lineage lineage;
    private final List<Cursor<byte[]>> cursors = new ArrayList<>();

    public PageLookup(Tables tables, Txn<byte[]> txn, Lineage lineage) {
        this.lineage = lineage;
        for (int i = 0; i < lineage.steps().size(); i++) {
            cursors.add(tables.pages.openCursor(txn));
        }
    }

    /** The stored version's key LSN and encoded value, or null when no step has one. */
    public Found find(RelTag rel, int block) {
        Found best = null;
        for (int i = 0; i < cursors.size(); i++) {
            Lineage.Step step = lineage.steps().get(i);
            if (best != null && !step.upTo().isAfter(best.lsn)) {
                break; // everything this ancestor could offer is older than what we have
            }
            byte[][] hit = Tables.floor(cursors.get(i), Keys.page(step.timeline(), rel, block, step.upTo()),
                    Keys.BLOCK_PREFIX);
            if (hit != null) {
                Lsn lsn = Keys.lsnAt(hit[0], Keys.BLOCK_PREFIX);
                if (best == null || lsn.isAfter(best.lsn)) {
                    best = new Found(step, lsn, hit[1]);
                }
            }
        }
        return best;
    }

    /** A version found in {@code step}'s timeline, keyed at {@code lsn}. */
    public record Found(Lineage.Step step, Lsn lsn, byte[] encoded) {
        public byte[] page() {
            return PageCodec.decode(encoded);
        }
    }

    @Override
    public void close() {
        cursors.forEach(Cursor::close);
    }
}
