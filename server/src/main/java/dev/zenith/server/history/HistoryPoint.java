package dev.zenith.server.history;

import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.wal.Lsn;

import java.time.Instant;

/**
 * A resolved point in a timeline's history: every WAL record that ends at or before {@code lsn} is in,
 * nothing after. {@code requested} and {@code note} say how it was asked for and any rounding.
 *
 * @param commitTime the time of the last commit the point includes (for a {@code --time} request, the commit it
 *                   resolved to); null when the history has no commit up to the point
 */
public record HistoryPoint(TimelineId timeline, Lsn lsn, String requested, String note, Instant commitTime) {
}
