package dev.zenith.wal.rmgr;

import dev.zenith.wal.bytes.LittleEndian;
import dev.zenith.wal.record.BlockReference;
import dev.zenith.wal.record.DecodedRecord;
import dev.zenith.wal.record.ResourceManager;

import java.util.ArrayList;
import java.util.List;

/**
 * The visibility-map bits heap records clear in redo without referencing the map page
 * (heap_xlog_insert/delete/update/multi_insert/lock/lock_updated): the flags of
 * access/heapam_xlog.h, read from each record's main data.
 */
public final class HeapVisibility {
    public static final int XLOG_HEAP_OPMASK = 0x70;
    public static final int XLOG_HEAP_INSERT = 0x00;
    public static final int XLOG_HEAP_DELETE = 0x10;
    public static final int XLOG_HEAP_UPDATE = 0x20;
    public static final int XLOG_HEAP_HOT_UPDATE = 0x40;
    public static final int XLOG_HEAP_LOCK = 0x60;
    public static final int XLOG_HEAP2_MULTI_INSERT = 0x50;
    public static final int XLOG_HEAP2_LOCK_UPDATED = 0x60;
    public static final int XLH_INSERT_ALL_VISIBLE_CLEARED = 1;
    public static final int XLH_DELETE_ALL_VISIBLE_CLEARED = 1;
    public static final int XLH_UPDATE_OLD_ALL_VISIBLE_CLEARED = 1;
    public static final int XLH_UPDATE_NEW_ALL_VISIBLE_CLEARED = 1 << 1;
    public static final int XLH_LOCK_ALL_FROZEN_CLEARED = 1;
    /** offsetof(flags) in xl_heap_delete, xl_heap_update, xl_heap_lock and xl_heap_lock_updated. */
    private static final int FLAGS_AFTER_XID_OFFNUM_INFOBITS = 7;

    private HeapVisibility() {
    }

    /**
     * The flags byte of a heap record that has one (insert, delete, update, hot update, lock,
     * multi-insert, lock updated), or -1 for every other record.
     *
     * @throws IllegalArgumentException if the main data is too short to hold it
     */
    public static int flags(DecodedRecord r) {
        int offset = flagsOffset(r);
        if (offset < 0) {
            return -1;
        }
        if (r.mainDataLength() <= offset) {
            throw new IllegalArgumentException("main data of " + r + " is " + r.mainDataLength()
                    + " bytes, too short for its flags at offset " + offset);
        }
        return LittleEndian.u8(r.rawBytes(), r.mainDataOffset() + offset);
    }

    private static int flagsOffset(DecodedRecord r) {
        int op = r.rmgrInfo() & XLOG_HEAP_OPMASK;
        if (r.rmid() == ResourceManager.HEAP) {
            return switch (op) {
                case XLOG_HEAP_INSERT -> 2; // xl_heap_insert: offnum, flags
                case XLOG_HEAP_DELETE, XLOG_HEAP_UPDATE, XLOG_HEAP_HOT_UPDATE, XLOG_HEAP_LOCK ->
                        FLAGS_AFTER_XID_OFFNUM_INFOBITS;
                default -> -1;
            };
        }
        if (r.rmid() == ResourceManager.HEAP2) {
            return switch (op) {
                case XLOG_HEAP2_MULTI_INSERT -> 0; // xl_heap_multi_insert: flags first
                case XLOG_HEAP2_LOCK_UPDATED -> FLAGS_AFTER_XID_OFFNUM_INFOBITS;
                default -> -1;
            };
        }
        return -1;
    }

    /**
     * The map bits redo of this record clears; empty for records that clear none.
     *
     * @throws IllegalArgumentException if the record's main data or block references do not fit its kind
     */
    public static List<VisibilityMapClear> clears(DecodedRecord r) {
        int flags = flags(r);
        if (flags <= 0) {
            return List.of();
        }
        List<VisibilityMapClear> out = new ArrayList<>(2);
        int op = r.rmgrInfo() & XLOG_HEAP_OPMASK;
        if (r.rmid() == ResourceManager.HEAP && (op == XLOG_HEAP_UPDATE || op == XLOG_HEAP_HOT_UPDATE)) {
            BlockReference newPage = block(r, 0);
            BlockReference oldPage = r.blocks().stream().filter(b -> b.blockId() == 1).findFirst().orElse(newPage);
            if ((flags & XLH_UPDATE_OLD_ALL_VISIBLE_CLEARED) != 0) {
                out.add(clear(oldPage, VisibilityMap.VALID_BITS));
            }
            if ((flags & XLH_UPDATE_NEW_ALL_VISIBLE_CLEARED) != 0) {
                out.add(clear(newPage, VisibilityMap.VALID_BITS));
            }
            return out;
        }
        boolean lock = (r.rmid() == ResourceManager.HEAP && op == XLOG_HEAP_LOCK)
                || (r.rmid() == ResourceManager.HEAP2 && op == XLOG_HEAP2_LOCK_UPDATED);
        if (lock) {
            if ((flags & XLH_LOCK_ALL_FROZEN_CLEARED) != 0) {
                out.add(clear(block(r, 0), VisibilityMap.ALL_FROZEN));
            }
            return out;
        }
        // insert, delete, multi-insert: XLH_*_ALL_VISIBLE_CLEARED is bit 0 of each
        if ((flags & XLH_INSERT_ALL_VISIBLE_CLEARED) != 0) {
            out.add(clear(block(r, 0), VisibilityMap.VALID_BITS));
        }
        return out;
    }

    private static VisibilityMapClear clear(BlockReference heapPage, int bits) {
        return new VisibilityMapClear(heapPage.rel().node(), heapPage.blockNumber(), bits);
    }

    private static BlockReference block(DecodedRecord r, int id) {
        return r.blocks().stream().filter(b -> b.blockId() == id).findFirst()
                .orElseThrow(() -> new IllegalArgumentException(r + " has no block reference " + id));
    }
}
