package dev.zenith.server.history;

import dev.zenith.server.domain.InvalidRequestException;
import dev.zenith.server.domain.ConflictException;
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
import java.util.List;
import java.util.Optional;

/**
 * Turns "now", an LSN or a time into a {@link HistoryPoint} of a timeline. Blocking (reads the store).
 *
 * <p>An LSN must lie between the retention horizon (the oldest image a compute can start from) and
 * the end of the timeline's WAL, and is rounded down to a record boundary: a compute can only be
 * started between two records. A time resolves to the end of the last commit at or before it.
 */
public final class HistoryPoints {
    private static final int READ_CHUNK = 1 << 20;
    /** Times outside these are refused: far enough for any history, and their microseconds fit PostgreSQL's. */
    private static final Instant EARLIEST = Instant.parse("0001-01-01T00:00:00Z");
    private static final Instant LATEST = Instant.parse("9999-12-31T23:59:59.999999Z");

    private HistoryPoints() {
    }

    /** The end of the last complete record: where the timeline is now. */
    public static HistoryPoint now(Store store, TimelineId tl) {
        Lsn end = end(store, tl);
        return new HistoryPoint(tl, end, null, null, lastCommitTime(store, tl, end));
    }

    /** When the data as of a point was last committed: the time of the last commit the point includes. */
    private static Instant lastCommitTime(Store store, TimelineId tl, Lsn point) {
        return store.changes().lastCommitBefore(tl, point).map(CommitRecord::time).orElse(null);
    }

    /** Exactly one of lsnText and timeText may be given; neither means now. */
    public static HistoryPoint resolve(Store store, TimelineId tl, String lsnText, String timeText) {
        if (lsnText != null && timeText != null) {
            throw new InvalidRequestException("give an LSN or a time, not both");
        }
        if (lsnText != null) {
            Lsn lsn;
            try {
                lsn = Lsn.parse(lsnText);
            } catch (IllegalArgumentException e) {
                throw new InvalidRequestException(e.getMessage());
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
                    throw new InvalidRequestException("not an ISO-8601 time (e.g. 2026-11-25T14:00:00Z): '" + timeText + "'");
                }
            }
            if (t.isBefore(EARLIEST) || t.isAfter(LATEST)) {
                throw new InvalidRequestException("time " + timeText + " is out of range (years 1 to 9999)");
            }
            return atTime(store, tl, t, timeText);
        }
        return now(store, tl);
    }

    static HistoryPoint atLsn(Store store, TimelineId tl, Lsn lsn) {
        Lsn end = end(store, tl);
        if (lsn.isAfter(end)) {
            // PostgreSQL's own positions (pg_current_wal_lsn(), a pg's last_lsn) are the end of WAL rounded
            // up to 8 bytes, where the next record will start: the same point.
            if (!lsn.isAfter(maxAlign(end))) {
                return new HistoryPoint(tl, end, lsn.toString(), "LSN " + lsn + " is the end of WAL; the last record ends at "
                        + end, lastCommitTime(store, tl, end));
            }
            throw new InvalidRequestException("LSN " + lsn + " is beyond the end of WAL (" + end + ")");
        }
        Optional<ImageManifest> found = store.images().imageFor(tl, lsn);
        Optional<Lsn> horizon = store.images().retentionHorizon(tl);
        if (found.isEmpty() || (horizon.isPresent() && !lsn.isAfter(horizon.get()))) {
            return atOldestImage(store, tl, lsn);
        }
        ImageManifest image = found.get();
        if (lsn.equals(end)) {
            return new HistoryPoint(tl, lsn, lsn.toString(), null, lastCommitTime(store, tl, lsn));
        }
        // Walk the records to find the boundary at or below lsn: from the last checkpoint record before it (garbage
        // collection on pages may have freed the WAL since the image's redo point), or from that redo point.
        List<Lsn> checkpoints = store.changes().checkpoints(tl, image.lsn(), lsn.plus(-1));
        Lsn from = checkpoints.isEmpty() ? image.redoLsn() : checkpoints.get(checkpoints.size() - 1);
        Lsn boundary = from;
        WalStreamDecoder decoder = WalStreamDecoder.startingAt(from);
        Lsn fed = from;
        while (true) {
            DecodeResult r = decoder.poll();
            if (r instanceof DecodedRecord rec) {
                if (rec.endLsn().equals(lsn) || rec.startLsn().equals(lsn)) {
                    return new HistoryPoint(tl, lsn, lsn.toString(), null, lastCommitTime(store, tl, lsn));
                }
                if (rec.endLsn().isAfter(lsn)) {
                    if (rec.startLsn().equals(image.lsn())) {
                        // Inside the image's own checkpoint record: its start is no point this image can start
                        // from, its end is, with the same data (a checkpoint changes none).
                        return new HistoryPoint(tl, rec.endLsn(), lsn.toString(), "LSN " + lsn + " is inside the checkpoint record of"
                                + " the image at " + image.lsn() + "; moved to its end, " + rec.endLsn() + ", which has the same data",
                                lastCommitTime(store, tl, rec.endLsn()));
                    }
                    Lsn rounded = rec.startLsn().isAfter(lsn) ? boundary : rec.startLsn();
                    return new HistoryPoint(tl, rounded, lsn.toString(),
                            "LSN " + lsn + " is not at a record boundary; rounded down to " + rounded,
                            lastCommitTime(store, tl, rounded));
                }
                boundary = rec.endLsn();
            } else if (r.kind() == DecodeResult.Kind.NEED_MORE_DATA && fed.isBefore(end)) {
                byte[] chunk = store.wal().read(tl, fed, (int) Math.min(READ_CHUNK, end.minus(fed)));
                decoder.feed(chunk, 0, chunk.length);
                fed = fed.plus(chunk.length);
            } else {
                return new HistoryPoint(tl, boundary, lsn.toString(),
                        "LSN " + lsn + " is not at a record boundary; rounded down to " + boundary,
                        lastCommitTime(store, tl, boundary));
            }
        }
    }

    /**
     * An LSN with no image below it: the start of the oldest image's checkpoint record (the retention
     * horizon as shown) is the end of its checkpoint record, with the same data; anything older is gone.
     */
    private static HistoryPoint atOldestImage(Store store, TimelineId tl, Lsn lsn) {
        Optional<Lsn> horizon = store.images().retentionHorizon(tl);
        if (horizon.isEmpty() || !lsn.equals(horizon.get())) {
            throw new InvalidRequestException("LSN " + lsn + " is before the retention horizon (" + horizon(store, tl) + ")");
        }
        Lsn checkpointEnd = recordAt(store, tl, horizon.get()).endLsn();
        return new HistoryPoint(tl, checkpointEnd, lsn.toString(), "LSN " + lsn + " is the checkpoint of the oldest image;"
                + " moved to its end, " + checkpointEnd + ", which has the same data", lastCommitTime(store, tl, checkpointEnd));
    }

    /** The record that starts at {@code at}. */
    private static DecodedRecord recordAt(Store store, TimelineId tl, Lsn at) {
        byte[] bytes = store.wal().read(tl, at, (int) Math.min(READ_CHUNK, end(store, tl).minus(at)));
        WalStreamDecoder decoder = WalStreamDecoder.startingAt(at);
        decoder.feed(bytes, 0, bytes.length);
        if (!(decoder.poll() instanceof DecodedRecord rec)) {
            throw new IllegalStateException("cannot decode the WAL record at " + at);
        }
        return rec;
    }

    /** Where PostgreSQL starts the record after one ending at {@code end} (within a page: MAXALIGN). */
    private static Lsn maxAlign(Lsn end) {
        return Lsn.of((end.value() + 7) & ~7L);
    }

    static HistoryPoint atTime(Store store, TimelineId tl, Instant time, String requested) {
        CommitRecord commit = store.changes().lastCommitAtOrBefore(tl, time).orElseThrow(() -> new InvalidRequestException(
                "no commit at or before " + time + " in this history"));
        Optional<Lsn> horizon = store.images().retentionHorizon(tl);
        if (horizon.isPresent() && commit.recordLsn().isBefore(horizon.get())) {
            // Older than the oldest image kept; if no commit came between them, that image holds the same data.
            boolean sameData = store.changes().lastCommitBefore(tl, horizon.get()).map(c -> c.recordLsn().equals(commit.recordLsn()))
                    .orElse(false);
            if (!sameData) {
                throw new InvalidRequestException("the last commit at or before " + time + " (at " + commit.recordLsn()
                        + ") is before the retention horizon (" + horizon.get() + ")");
            }
            HistoryPoint p = atOldestImage(store, tl, horizon.get());
            return new HistoryPoint(tl, p.lsn(), requested, "the last commit at or before " + time
                    + " precedes the oldest image kept, which has the same data; starts at its end, " + p.lsn(), commit.time());
        }
        // The point must include the commit record itself: its end is the record after it.
        HistoryPoint p = atLsn(store, tl, recordAt(store, tl, commit.recordLsn()).endLsn());
        return new HistoryPoint(tl, p.lsn(), requested, "last commit at or before " + time + " ends at " + p.lsn(),
                commit.time());
    }

    /**
     * Where PostgreSQL's recovery ends when the WAL it replays ends at {@code point} (a record boundary):
     * after the last record that ends at or before it, aligned as PostgreSQL's reader aligns it (so a
     * point just after a page header is the page's start). A new PostgreSQL timeline begins there.
     * Decodes from the nearest record start the indexes know before the point: the last commit record's, else the
     * last checkpoint record's (or the image's). From a checkpoint that was up to a checkpoint interval of WAL
     * (15 MB after ten minutes of pgbench, decoded before a branch's directory could be written); from the last
     * commit, usually a few records.
     */
    public static Lsn pgEndOfWal(Store store, TimelineId tl, Lsn point) {
        ImageManifest image = store.images().imageFor(tl, point)
                .orElseThrow(() -> new ConflictException("no image at or before " + point + " in this history"));
        List<Lsn> checkpoints = store.changes().checkpoints(tl, image.lsn(), point.plus(-1));
        Lsn checkpoint = checkpoints.isEmpty() ? image.lsn() : checkpoints.get(checkpoints.size() - 1);
        Lsn from = store.changes().lastCommitBefore(tl, point).map(CommitRecord::recordLsn)
                .filter(commit -> commit.isAfter(checkpoint)).orElse(checkpoint);
        WalStreamDecoder decoder = WalStreamDecoder.startingAt(from);
        Lsn end = null;
        for (Lsn fed = from; ; ) {
            DecodeResult r = decoder.poll();
            if (r instanceof DecodedRecord rec) {
                end = rec.readerEndLsn();
            } else if (r.kind() == DecodeResult.Kind.NEED_MORE_DATA && fed.isBefore(point)) {
                byte[] chunk = store.wal().read(tl, fed, (int) Math.min(READ_CHUNK, point.minus(fed)));
                decoder.feed(chunk, 0, chunk.length);
                fed = fed.plus(chunk.length);
            } else if (end == null) {
                throw new IllegalStateException("no complete WAL record between " + from + " and " + point);
            } else {
                return end;
            }
        }
    }

    static Lsn end(Store store, TimelineId tl) {
        return store.wal().lastRecordEnd(tl).orElseThrow(() -> new ConflictException("this history has no WAL yet (timeline "
                + tl + ")"));
    }

    /** The oldest point a compute can start from: the first image of the timeline's lineage. */
    static String horizon(Store store, TimelineId tl) {
        return store.images().retentionHorizon(tl).map(Lsn::toString).orElse("none");
    }
}
