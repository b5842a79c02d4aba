package dev.zenith.wal.change;

import dev.zenith.wal.RelTag;

import java.util.Objects;

/**
 * A page one WAL record may change, and how. Every block reference is one (a conservative "may":
 * a few redo routines only read a referenced page), and so is every visibility-map page a heap or
 * truncate record changes without referencing it. The LSN that goes with it is the record's
 * MAXALIGNed end ({@link dev.zenith.wal.record.DecodedRecord#alignedEndLsn()}), the value redo
 * stamps into pd_lsn.
 */
public record PageChange(RelTag rel, long block, int flags) {
    /** BKPBLOCK_WILL_INIT: redo builds the page from nothing; its earlier contents do not matter. */
    public static final int WILL_INIT = 1;
    /** A full-page image redo restores (BKPIMAGE_APPLY): the page after the record, whole. */
    public static final int IMAGE = 1 << 1;
    /** An image only for wal_consistency_checking: redo does not apply it. */
    public static final int CHECK_IMAGE = 1 << 2;
    /**
     * XLOG_FPI_FOR_HINT without an image (full_page_writes off): redo does nothing, but on the
     * primary the page got hint bits and this record's LSN as pd_lsn.
     */
    public static final int HINT_ONLY = 1 << 3;
    /** Visibility-map bits cleared by redo without a block reference; pd_lsn is not changed. */
    public static final int MAP_BITS_CLEARED = 1 << 4;
    /**
     * CREATE DATABASE by FILE_COPY (or ALTER DATABASE SET TABLESPACE) copied the block from the template's
     * directory, without a block reference: redo changes it and stamps nothing.
     */
    public static final int COPIED = 1 << 5;

    public PageChange {
        Objects.requireNonNull(rel, "rel");
    }

    public boolean has(int flag) {
        return (flags & flag) != 0;
    }

    /** Redo produces the page without reading it: what came before needs no version. */
    public boolean replacesPage() {
        return has(WILL_INIT) || has(IMAGE);
    }

    /** Whether redo stamps the record's end LSN into the page (true for every block reference it applies). */
    public boolean stampsLsn() {
        return !has(HINT_ONLY) && !has(MAP_BITS_CLEARED);
    }

    /** Whether redo changes the page at all (false only for hint-only references). */
    public boolean changedByRedo() {
        return !has(HINT_ONLY);
    }
}
