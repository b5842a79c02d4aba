package dev.zenith.storage.page;

import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.wal.Lsn;

/**
 * One stored version of a page. {@code lsn} is the version's key: normally the page's own pd_lsn;
 * for a page whose content changed without its LSN moving (hint bits, FSM, unlogged relations) it
 * is the LSN of the image that found the new content.
 */
public record PageVersion(TimelineId timeline, Lsn lsn, byte[] page) {
}
