package dev.zenith.server.history;

import dev.zenith.server.api.ApiException;
import dev.zenith.storage.Store;
import dev.zenith.storage.image.ImageManifest;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.storage.wal.CommitRecord;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.decoder.DecodeResult;
import dev.zenith.wal.decoder.WalStreamDecoder;
import dev.zenith.wal.record.DecodedRecord;

import java.time.Instant;
import java.time.format.DateTimeParseException;

/**
 * Turns "now", an LSN or a time into a {@link HistoryPoint} of a timeline. Blocking (reads the store).
 *
 * <p>An LSN must lie between the retention horizon (the oldest image a compute can start from) and
 * the end of the timeline's WAL, and is rounded down to a record boundary: a compute can only be
 * started between two records. A time resolves to the end of the last commit at or before it.
 */
public final class HistoryPoints {
    private static final int READ_CHUNK = 1 << 20;

    private HistoryPoints() {
    }

    /** The end of the last complete record: where the timeline is now. */
    public static HistoryPoint now(Store store, TimelineId tl) {
        Lsn end = end(store, tl);
        return new HistoryPoint(tl, end, null, null, lastCommitTime(store, tl, end));
    }

    /** When the data as of a point was last committed: the time of the last commit the point includes. */
    private static Instant lastCommitTime(Store store, TimelineId tl, Lsn point) {
        return store.lastCommitBefore(tl, point).map(CommitRecord::time).orElse(null);
    }

    /** Exactly one of lsnText and timeText may be given; neither means now. */
    public static HistoryPoint resolve(Store store, TimelineId tl, String lsnText, String timeText) {
        if (lsnText != null && timeText != null) {
            throw ApiException.badRequest("give an LSN or a time, not both");
        }
        if (lsnText != null) {
            Lsn lsn;
            try {
                lsn = Lsn.parse(lsnText);
            } catch (IllegalArgumentException e) {
                throw ApiException.badRequest(e.getMessage());
            }
            return atLsn(store, tl, lsn);
        }
        if (timeText != null) {
            Instant t;
            try {
                t = Instant.parse(timeText);
            } catch (DateTimeParseException e) {
                try {
                    t = java.time.OffsetDateTime.parse(timeText).toInstant();
                } catch (DateTimeParseException e2) {
                    throw ApiException.badRequest("not an ISO-8601 time (e.g. 2026-11-25T14:00:00Z): '" + timeText + "'");
                }
            }
            return atTime(store, tl, t, timeText);
        }
        return now(store, tl);
    }

    static HistoryPoint atLsn(Store store, TimelineId tl, Lsn lsn) {
        Lsn end = end(store, tl);
        if (lsn.isAfter(end)) {
            throw ApiException.badRequest("LSN " + lsn + " is beyond the end of WAL (" + end + ")");
        }
        ImageManifest image = store.imageFor(tl, lsn).orElseThrow(() -> ApiException.badRequest(
                "LSN " + lsn + " is before the retention horizon (" + horizon(store, tl) + ")"));
        if (lsn.equals(end)) {
            return new HistoryPoint(tl, lsn, lsn.toString(), null, lastCommitTime(store, tl, lsn));
        }
        // Walk the records from the image's redo point to find the boundary at or below lsn.
        Lsn boundary = image.redoLsn();
        WalStreamDecoder decoder = WalStreamDecoder.startingAt(image.redoLsn());
        Lsn fed = image.redoLsn();
        while (true) {
            DecodeResult r = decoder.poll();
            if (r instanceof DecodedRecord rec) {
                if (rec.endLsn().equals(lsn) || rec.startLsn().equals(lsn)) {
                    return new HistoryPoint(tl, lsn, lsn.toString(), null, lastCommitTime(store, tl, lsn));
                }
                if (rec.endLsn().isAfter(lsn)) {
                    Lsn rounded = rec.startLsn().isAfter(lsn) ? boundary : rec.startLsn();
                    return new HistoryPoint(tl, rounded, lsn.toString(),
                            "LSN " + lsn + " is not at a record boundary; rounded down to " + rounded,
                            lastCommitTime(store, tl, rounded));
                }
                boundary = rec.endLsn();
            } else if (r.kind() == DecodeResult.Kind.NEED_MORE_DATA && fed.isBefore(end)) {
                byte[] chunk = store.readWal(tl, fed, (int) Math.min(READ_CHUNK, end.minus(fed)));
                decoder.feed(chunk, 0, chunk.length);
                fed = fed.plus(chunk.length);
            } else {
                return new HistoryPoint(tl, boundary, lsn.toString(),
                        "LSN " + lsn + " is not at a record boundary; rounded down to " + boundary,
                        lastCommitTime(store, tl, boundary));
            }
        }
    }

    static HistoryPoint atTime(Store store, TimelineId tl, Instant time, String requested) {
        CommitRecord commit = store.lastCommitAtOrBefore(tl, time).orElseThrow(() -> ApiException.badRequest(
                "no commit at or before " + time + " in this history"));
        // The point must include the commit record itself: its end is the record after it.
        byte[] bytes = store.readWal(tl, commit.recordLsn(), (int) Math.min(READ_CHUNK,
                end(store, tl).minus(commit.recordLsn())));
        WalStreamDecoder decoder = WalStreamDecoder.startingAt(commit.recordLsn());
        decoder.feed(bytes, 0, bytes.length);
        if (!(decoder.poll() instanceof DecodedRecord rec)) {
            throw new IllegalStateException("cannot decode the commit record at " + commit.recordLsn());
        }
        HistoryPoint p = atLsn(store, tl, rec.endLsn());
        return new HistoryPoint(tl, p.lsn(), requested, "last commit at or before " + time + " ends at " + p.lsn(),
                commit.time());
    }

    static Lsn end(Store store, TimelineId tl) {
        return store.lastRecordEnd(tl).orElseThrow(() -> ApiException.conflict("timeline " + tl + " has no WAL yet"));
    }

    /** The oldest point a compute can start from: the first image of the timeline's lineage. */
    static String horizon(Store store, TimelineId tl) {
        return store.retentionHorizon(tl).map(Lsn::toString).orElse("none");
    }
}
