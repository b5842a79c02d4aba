package dev.zenith.wal.change;

import dev.zenith.wal.ForkNumber;
import dev.zenith.wal.RelTag;
import dev.zenith.wal.record.BlockReference;
import dev.zenith.wal.record.DecodedRecord;
import dev.zenith.wal.record.ResourceManager;
import dev.zenith.wal.rmgr.HeapVisibility;
import dev.zenith.wal.rmgr.MainDataDecoder;
import dev.zenith.wal.rmgr.SmgrTruncate;
import dev.zenith.wal.rmgr.VisibilityMapClear;
import dev.zenith.wal.rmgr.WalPayload;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/** The pages one decoded record may change: its block references, then the map pages it changes without one. */
public final class PageChanges {
    private PageChanges() {
    }

    /**
     * @throws IllegalArgumentException if the record's main data does not fit its kind
     */
    public static List<PageChange> of(DecodedRecord r) {
        List<PageChange> out = new ArrayList<>(r.blocks().size() + 1);
        boolean hintRecord = r.rmid() == ResourceManager.XLOG && r.rmgrInfo() == MainDataDecoder.XLOG_FPI_FOR_HINT;
        for (BlockReference b : r.blocks()) {
            int flags = 0;
            if (b.willInit()) {
                flags |= PageChange.WILL_INIT;
            }
            if (b.applyImage()) {
                flags |= PageChange.IMAGE;
            } else if (b.hasImage()) {
                flags |= PageChange.CHECK_IMAGE;
            }
            if (hintRecord && !b.hasImage()) {
                flags |= PageChange.HINT_ONLY;
            }
            out.add(new PageChange(b.rel(), b.blockNumber(), flags));
        }
        for (VisibilityMapClear c : HeapVisibility.clears(r)) {
            out.add(new PageChange(c.mapFork(), c.mapBlock(), PageChange.MAP_BITS_CLEARED));
        }
        if (r.rmid() == ResourceManager.SMGR) {
            Optional<WalPayload> p = MainDataDecoder.decode(r);
            if (p.isPresent() && p.get() instanceof SmgrTruncate t) {
                t.visibilityMapPageCleared().ifPresent(block -> out.add(new PageChange(
                        new RelTag(t.rel(), ForkNumber.VISIBILITY_MAP), block, PageChange.MAP_BITS_CLEARED)));
            }
        }
        return out;
    }
}
