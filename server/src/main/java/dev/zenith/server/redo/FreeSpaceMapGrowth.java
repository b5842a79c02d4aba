package dev.zenith.server.redo;

import dev.zenith.wal.ForkNumber;
import dev.zenith.wal.RelTag;
import dev.zenith.wal.change.PageChange;
import dev.zenith.wal.record.DecodedRecord;
import dev.zenith.wal.record.ResourceManager;
import dev.zenith.wal.rmgr.MainDataDecoder;
import dev.zenith.wal.rmgr.XactCompletion;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * What one WAL record's redo can do to free-space map lengths (PostgreSQL's freespace.c), with no I/O. Free-space
 * maps are not WAL-logged; in recovery they change length only where:
 * <ul>
 *   <li>heap redo records a changed heap block's free space (XLogRecordPageWithFreeSpace): it reads the map's leaf
 *       page for that block with XLogReadBufferExtended, which extends the fork to that page and no further (the
 *       upper levels lie below the leaf, fsm_logical_to_physical);</li>
 *   <li>a block reference names a free-space map page (a full-page image after a truncation): extended to it;</li>
 *   <li>relations are created, truncated or dropped (SMGR, commit/abort with dropped relations), databases created
 *       (by copying the template's files) or dropped, tablespaces changed (and, not knowable, custom resource
 *       managers' redo).</li>
 * </ul>
 * {@link #lengthsNeeded} tells the first kind and the second as the length each map must already have for the
 * record to leave it as it is, and the third as "any length may change".
 */
final class FreeSpaceMapGrowth {
    /** SlotsPerFSMPage for BLCKSZ 8192: NodesPerPage (8192 - 24 - 4) less NonLeafNodesPerPage (4095). */
    static final long SLOTS_PER_PAGE = 4069;
    /** FSM_TREE_DEPTH: 3 levels address every block of a relation when a page has at least 1626 slots. */
    private static final int TREE_DEPTH = 3;

    private FreeSpaceMapGrowth() {
    }

    /** The block of the free-space map's leaf page holding {@code heapBlock}'s slot (fsm_get_location, then fsm_logical_to_physical). */
    static long leafBlock(long heapBlock) {
        long leafno = heapBlock / SLOTS_PER_PAGE;
        long pages = 0;
        for (int level = 0; level < TREE_DEPTH; level++) {
            pages += leafno + 1; // the leaf and each upper page on its path, with the pages before them
            leafno /= SLOTS_PER_PAGE;
        }
        return pages - 1;
    }

    /**
     * For each free-space map fork the record's redo ({@code changes}: its {@link dev.zenith.wal.change.PageChanges}) may extend, the length (in blocks) it extends it to; empty when
     * it touches none; null when it creates, truncates or drops relations, databases or tablespaces.
     */
    static Map<RelTag, Long> lengthsNeeded(DecodedRecord r, List<PageChange> changes) {
        int rmid = r.rmid();
        // a custom resource manager's redo may do anything: counted with those that change lengths
        if (rmid == ResourceManager.SMGR || rmid == ResourceManager.DBASE || rmid == ResourceManager.TBLSPC
                || rmid >= ResourceManager.MIN_CUSTOM_ID) {
            return null;
        }
        if (rmid == ResourceManager.XACT && MainDataDecoder.decode(r).orElse(null) instanceof XactCompletion x
                && !x.droppedRelations().isEmpty()) {
            return null;
        }
        boolean heap = rmid == ResourceManager.HEAP || rmid == ResourceManager.HEAP2;
        Map<RelTag, Long> out = new HashMap<>();
        for (PageChange c : changes) {
            if (!c.changedByRedo()) {
                continue;
            }
            if (c.rel().fork() == ForkNumber.FSM) {
                out.merge(c.rel(), c.block() + 1, Math::max);
            } else if (heap && c.rel().fork() == ForkNumber.MAIN) {
                out.merge(new RelTag(c.rel().node(), ForkNumber.FSM), leafBlock(c.block()) + 1, Math::max);
            }
        }
        return out;
    }
}
