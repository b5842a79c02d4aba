package dev.zenith.server.redo;

import dev.zenith.storage.page.PageLayout;
import dev.zenith.wal.ForkNumber;
import dev.zenith.wal.bytes.LittleEndian;
import dev.zenith.wal.segment.WalGeometry;

import java.util.Arrays;
import java.util.Collections;
import java.util.EnumSet;
import java.util.Set;

/**
 * PostgreSQL's masking (access/common/bufmask.c, and heap_mask in heapam.c) for comparing a page
 * replay produced with one it did not: what may differ without the data differing. Every page:
 * pd_lsn and the checksum, the hint flags (PD_PAGE_FULL, PD_HAS_FREE_LINES, and PD_ALL_VISIBLE,
 * which bufmask also masks) and pd_prune_xid. Heap and index pages: the unused space between
 * pd_lower and pd_upper. Heap pages (main fork, no special space): per tuple, the transaction hint
 * bits of t_infomask (only the xmax ones when xmin is frozen), the command id, and the padding
 * after the tuple. B-tree pages (btree_mask in nbtxlog.c): line pointer flags on leaf pages
 * (LP_DEAD is set without WAL), BTP_HAS_GARBAGE, BTP_SPLIT_END and the vacuum cycle id.
 * Visibility-map pages keep their map: it is data.
 */
final class BufMask {
    private static final int PD_FLAGS = 10;
    private static final int PD_LOWER = 12;
    private static final int PD_UPPER = 14;
    private static final int PD_SPECIAL = 16;
    private static final int PD_PRUNE_XID = 20;
    private static final int HEADER = 24;
    private static final int PD_HINT_FLAGS = 0x0001 | 0x0002 | 0x0004;
    private static final int HEAP_XACT_MASK = 0xFFF0;
    private static final int HEAP_XMIN_FROZEN = 0x0300;
    private static final int HEAP_XMAX_HINTS = 0x0400 | 0x0800;
    private static final int SPEC_TOKEN_OFFNUM = 0xFFFE;
    private static final int LP_NORMAL = 1;
    private static final int TUPLE_HEADER = 23;
    private static final int BTREE_SPECIAL = 16;
    private static final int MAX_BT_CYCLE_ID = 0xFF7F;
    private static final int BTP_LEAF = 1;
    private static final int BTP_SPLIT_END = 1 << 5;
    private static final int BTP_HAS_GARBAGE = 1 << 6;

    /** The parts of a page masking hides, one per rule of bufmask.c, heap_mask and btree_mask. */
    enum Part {
        LSN_AND_CHECKSUM, PAGE_HINT_FLAGS, PRUNE_XID, UNUSED_SPACE, TUPLE_HINT_BITS, COMMAND_ID,
        SPECULATIVE_CTID, TUPLE_PADDING, BTREE_LP_FLAGS, BTREE_PAGE_FLAGS, BTREE_CYCLE_ID
    }

    private static final Set<Part> ALL = Collections.unmodifiableSet(EnumSet.allOf(Part.class));

    private BufMask() {
    }

    /** A masked copy; all-zero (new) pages are returned as they are. */
    static byte[] mask(byte[] page, ForkNumber fork, long block) {
        return mask(page, fork, block, ALL);
    }

    /**
     * The parts of two pages that differ only where masking hides them: empty when they are
     * byte-equal; null when they differ even after all masking. A part counts when masking all the
     * other parts still leaves a difference (so two parts hiding the same bytes are not counted).
     */
    static Set<Part> partsMasked(byte[] a, byte[] b, ForkNumber fork, long block) {
        if (Arrays.equals(a, b)) {
            return EnumSet.noneOf(Part.class);
        }
        if (!Arrays.equals(mask(a, fork, block), mask(b, fork, block))) {
            return null;
        }
        Set<Part> needed = EnumSet.noneOf(Part.class);
        for (Part part : Part.values()) {
            Set<Part> others = EnumSet.allOf(Part.class);
            others.remove(part);
            if (!Arrays.equals(mask(a, fork, block, others), mask(b, fork, block, others))) {
                needed.add(part);
            }
        }
        return needed;
    }

    /** A copy with only {@code parts} masked. */
    static byte[] mask(byte[] page, ForkNumber fork, long block, Set<Part> parts) {
        byte[] p = page.clone();
        if (PageLayout.isNew(p)) {
            return p;
        }
        if (parts.contains(Part.LSN_AND_CHECKSUM)) {
            for (int i = 0; i < 10; i++) {
                p[i] = 0; // pd_lsn, pd_checksum
            }
        }
        if (parts.contains(Part.PAGE_HINT_FLAGS)) {
            LittleEndian.put16(p, PD_FLAGS, LittleEndian.u16(p, PD_FLAGS) & ~PD_HINT_FLAGS);
        }
        if (parts.contains(Part.PRUNE_XID)) {
            LittleEndian.put32(p, PD_PRUNE_XID, 0);
        }
        if (fork == ForkNumber.VISIBILITY_MAP) {
            return p;
        }
        int lower = LittleEndian.u16(p, PD_LOWER);
        int upper = LittleEndian.u16(p, PD_UPPER);
        if (parts.contains(Part.UNUSED_SPACE) && lower >= HEADER && lower <= upper && upper <= WalGeometry.BLCKSZ) {
            Arrays.fill(p, lower, upper, (byte) 0);
        }
        int special = LittleEndian.u16(p, PD_SPECIAL);
        if (fork == ForkNumber.MAIN && special == WalGeometry.BLCKSZ && lower > HEADER) {
            maskHeapTuples(p, (lower - HEADER) / 4, block, parts);
        } else if (isBtree(p, special)) {
            maskBtree(p, special, lower, parts);
        }
        return p;
    }

    /**
     * B-tree pages have a 16-byte special space ending in btpo_cycleid, which never reaches the
     * page ids hash (0xFF80), GiST (0xFF81) and SP-GiST (0xFF82) keep in that place (MAX_BT_CYCLE_ID).
     */
    private static boolean isBtree(byte[] p, int special) {
        return special == WalGeometry.BLCKSZ - BTREE_SPECIAL
                && LittleEndian.u16(p, WalGeometry.BLCKSZ - 2) <= MAX_BT_CYCLE_ID;
    }

    private static void maskBtree(byte[] p, int special, int lower, Set<Part> parts) {
        int flags = LittleEndian.u16(p, special + 12);
        if ((flags & BTP_LEAF) != 0 && parts.contains(Part.BTREE_LP_FLAGS)) {
            for (int lp = HEADER; lp + 4 <= lower; lp += 4) {
                long v = LittleEndian.u32(p, lp);
                if (((v >>> 15) & 0x3) != 0) {
                    LittleEndian.put32(p, lp, (int) (v & ~(0x3L << 15))); // mask_lp_flags: a used pointer becomes LP_UNUSED
                }
            }
        }
        if (parts.contains(Part.BTREE_PAGE_FLAGS)) {
            LittleEndian.put16(p, special + 12, flags & ~(BTP_HAS_GARBAGE | BTP_SPLIT_END));
        }
        if (parts.contains(Part.BTREE_CYCLE_ID)) {
            LittleEndian.put16(p, special + 14, 0);
        }
    }

    private static void maskHeapTuples(byte[] p, int items, long block, Set<Part> parts) {
        for (int i = 0; i < items; i++) {
            long lp = LittleEndian.u32(p, HEADER + 4 * i);
            int off = (int) (lp & 0x7FFF);
            int flags = (int) ((lp >>> 15) & 0x3);
            int len = (int) ((lp >>> 17) & 0x7FFF);
            if (off < HEADER || off + Math.max(len, TUPLE_HEADER) > WalGeometry.BLCKSZ) {
                continue;
            }
            if (flags == LP_NORMAL && len >= TUPLE_HEADER) {
                // HeapTupleHeaderData: xmin 0, xmax 4, t_cid 8, t_ctid 12 (block 12-15, offset 16), infomask2 18, infomask 20
                int infomask = LittleEndian.u16(p, off + 20);
                boolean xminFrozen = (infomask & HEAP_XMIN_FROZEN) == HEAP_XMIN_FROZEN;
                if (parts.contains(Part.TUPLE_HINT_BITS)) {
                    LittleEndian.put16(p, off + 20, infomask & ~(xminFrozen ? HEAP_XMAX_HINTS : HEAP_XACT_MASK));
                }
                if (parts.contains(Part.COMMAND_ID)) {
                    LittleEndian.put32(p, off + 8, 0);
                }
                if (parts.contains(Part.SPECULATIVE_CTID) && LittleEndian.u16(p, off + 16) == SPEC_TOKEN_OFFNUM) {
                    LittleEndian.put16(p, off + 12, (int) (block >>> 16));
                    LittleEndian.put16(p, off + 14, (int) block);
                    LittleEndian.put16(p, off + 16, i + 1);
                }
            }
            if (len > 0 && parts.contains(Part.TUPLE_PADDING)) {
                int padded = (len + 7) & ~7;
                Arrays.fill(p, off + len, Math.min(off + padded, WalGeometry.BLCKSZ), (byte) 0);
            }
        }
    }
}
