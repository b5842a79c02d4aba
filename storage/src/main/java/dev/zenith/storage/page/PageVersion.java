package dev.zenith.storage.page;

import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.wal.Lsn;

/**
 * One stored version of a page. {@code lsn} is the version's key: normally the page's own pd_lsn;
 * for a page whose content changed without its LSN moving (hint bits, FSM, unlogged relations) it
 * is the LSN of the image that found the new content. The page stays as stored ({@code stored}) until
 * asked for: a page service decodes it into its socket's buffer.
 */
public record PageVersion(TimelineId timeline, Lsn lsn, StoredPage stored) {
    /** The page's 8 KiB, decoded into a new array. */
    public byte[] page() {
        return stored.page();
    }
}
