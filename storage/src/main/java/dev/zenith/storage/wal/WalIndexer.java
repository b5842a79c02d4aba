package dev.zenith.storage.wal;

import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.decoder.DecodeResult;
import dev.zenith.wal.decoder.EndOfWal;
import dev.zenith.wal.decoder.EndReason;
import dev.zenith.wal.segment.WalSegments;
import dev.zenith.wal.decoder.WalStreamDecoder;
import dev.zenith.wal.record.DecodedRecord;
import dev.zenith.wal.rewrite.InPlaceTablespaces;
import dev.zenith.wal.rewrite.WalPatch;

import java.io.ByteArrayOutputStream;
import java.util.Arrays;
import java.util.logging.Logger;

/**
 * Decodes WAL that continues a timeline's stored WAL and collects what the store indexes from it
 * ({@link WalIndex}). It starts at the record after the last complete stored one, re-reading the torn
 * record at the tail (if any) so that record is decoded whole once its rest arrives. Used by the WAL
 * receiver for streamed WAL and by the store when it replays its WAL journal.
 *
 * <p>It is also where Tablespace/CREATE records are made to create in-place tablespaces
 * ({@link InPlaceTablespaces}), before the WAL reaches the journal, LMDB or any reader: a record that
 * may be one is held back from {@link #drain()} until it is complete and rewritten, so no part of it
 * is ever stored or served as received, whatever pages, segments or messages it is split across.
 */
public final class WalIndexer {
    private static final Logger LOG = Logger.getLogger(WalIndexer.class.getName());
    private static final int READ_CHUNK = 1 << 20;

    private final TimelineId timeline;
    private WalStreamDecoder decoder;
    /**
     * Where decoding resumed over stored WAL, until a record is decoded: if the last stored record was a WAL
     * switch whose padding was not stored yet, the padding's zeros arrive here and the next record is at the
     * next segment.
     */
    private Lsn resumedAt;
    private final WalIndex index = new WalIndex();
    /** The decoder has seen every byte below this; it may start past the stored end (alignment padding). */
    private Lsn decoderAt;
    /** End of the bytes fed so far. */
    private Lsn end;
    /** Start of the bytes not yet drained into an append. */
    private Lsn undrained;
    /** The bytes fed from {@link #undrained} on (rewritten where needed), {@link #pending} of them. */
    private byte[] buffer = new byte[0];
    private int pending;

    private WalIndexer(TimelineId timeline, Lsn decodeFrom, Lsn storedEnd) {
        this.timeline = timeline;
        this.decoder = WalStreamDecoder.startingAt(decodeFrom);
        this.decoderAt = decodeFrom;
        this.end = storedEnd;
        this.undrained = storedEnd;
    }

    /** An indexer for the bytes that follow the timeline's stored WAL (blocking: reads the torn tail). */
    public static WalIndexer resume(WalLog wal, TimelineId timeline) {
        Lsn walEnd = wal.end(timeline).orElseThrow(() -> new IllegalStateException("timeline " + timeline
                + " has no WAL"));
        Lsn recordEnd = wal.lastRecordEnd(timeline).orElse(walEnd);
        Lsn from = nextRecordStart(recordEnd);
        WalIndexer indexer = startingAt(wal, timeline, from, walEnd);
        if (indexer.readsZerosAt(from)) {
            // Streamed WAL has zeros where a record should start only after a WAL switch, whose padding fills
            // the rest of its segment: the next record is at the next segment.
            Lsn nextSegment = Lsn.of(WalSegments.segmentStart(WalSegments.segmentNumber(recordEnd.value() - 1) + 1));
            indexer = startingAt(wal, timeline, nextSegment, walEnd);
        } else {
            indexer.resumedAt = from;
        }
        return indexer;
    }

    /** An indexer decoding from {@code from}, fed the stored bytes from there to {@code walEnd}. */
    private static WalIndexer startingAt(WalLog wal, TimelineId timeline, Lsn from, Lsn walEnd) {
        WalIndexer indexer = new WalIndexer(timeline, from, walEnd);
        ByteArrayOutputStream tail = new ByteArrayOutputStream();
        for (Lsn at = from; at.isBefore(walEnd); ) {
            byte[] chunk = wal.read(timeline, at, (int) Math.min(walEnd.minus(at), READ_CHUNK));
            if (chunk.length == 0) {
                break;
            }
            tail.write(chunk, 0, chunk.length);
            at = at.plus(chunk.length);
        }
        if (tail.size() > 0) {
            indexer.decoder.feed(tail.toByteArray(), 0, tail.size());
            indexer.decoderAt = indexer.decoderAt.plus(tail.size());
        }
        return indexer;
    }

    /** Whether the stored tail has zeros at {@code at}, where a record should start; records it completes are indexed. */
    private boolean readsZerosAt(Lsn at) {
        DecodeResult r = decoder.poll();
        for (; r instanceof DecodedRecord rec; r = decoder.poll()) {
            index.add(rec); // the stored end said less than the bytes hold: feed() would have indexed it too
        }
        return r instanceof EndOfWal e && e.reason() == EndReason.ZEROS && e.validEnd().equals(at);
    }

    /** Where the record after one ending at {@code end} starts: records are 8-byte aligned. */
    public static Lsn nextRecordStart(Lsn end) {
        return Lsn.of((end.value() + 7) & ~7L);
    }

    /** End of the bytes fed so far (at first: the stored end). */
    public Lsn end() {
        return end;
    }

    /**
     * Feeds the next bytes (they start at {@link #end()}) and indexes every record they complete.
     * Returns null, or the end of valid WAL if the bytes hold an invalid record; the indexer is then
     * unusable.
     */
    public EndOfWal feed(byte[] bytes) {
        Lsn newEnd = end.plus(bytes.length);
        long unseen = newEnd.minus(decoderAt);
        if (unseen > 0) {
            decoder.feed(bytes, (int) (bytes.length - unseen), (int) unseen);
            decoderAt = newEnd;
        }
        if (pending + bytes.length > buffer.length) {
            buffer = Arrays.copyOf(buffer, Math.max(2 * buffer.length, pending + bytes.length));
        }
        System.arraycopy(bytes, 0, buffer, pending, bytes.length);
        pending += bytes.length;
        end = newEnd;
        while (true) {
            DecodeResult r = decoder.poll();
            if (r instanceof DecodedRecord rec) {
                resumedAt = null;
                index.add(rec);
                rewrite(rec);
            } else if (r instanceof EndOfWal invalid) {
                if (!padsASwitch(invalid)) {
                    return invalid;
                }
            } else {
                return null;
            }
        }
    }

    /**
     * Whether {@code invalid} is the padding after a WAL switch that was the last stored record; if so the
     * decoder restarts at the next segment with the bytes held from there.
     */
    private boolean padsASwitch(EndOfWal invalid) {
        if (resumedAt == null || invalid.reason() != EndReason.ZEROS || !invalid.validEnd().equals(resumedAt)
                || WalSegments.isSegmentBoundary(resumedAt.value())) {
            return false;
        }
        Lsn nextSegment = Lsn.of(WalSegments.segmentStart(WalSegments.segmentNumber(resumedAt.value()) + 1));
        resumedAt = null;
        if (nextSegment.isBefore(undrained)) {
            return false; // its bytes are stored, not held: resume() looks at those
        }
        decoder = WalStreamDecoder.startingAt(nextSegment);
        decoderAt = nextSegment;
        if (end.isAfter(nextSegment)) {
            int from = (int) nextSegment.minus(undrained);
            decoder.feed(buffer, from, pending - from);
            decoderAt = end;
        }
        return true;
    }

    /** A Tablespace/CREATE record with an outside location becomes an in-place one in the bytes to drain. */
    private void rewrite(DecodedRecord rec) {
        for (WalPatch p : InPlaceTablespaces.patches(rec)) {
            if (!p.applyTo(buffer, 0, pending, undrained)) {
                // Only WAL stored before this rewrite existed can hold such a record's start already.
                LOG.warning("the Tablespace/CREATE record at " + rec.startLsn() + " of timeline " + timeline
                        + " began in WAL stored before; it stays as received (an outside location)");
                return;
            }
        }
    }

    /** End of the last record decoded so far, or null if none was since the last drain. */
    public Lsn lastRecordEnd() {
        return index.lastRecordEnd();
    }

    /**
     * The append of the bytes fed since the last drain, with what was indexed from them, or null when
     * there is none yet. A record that may be a Tablespace/CREATE one (its header incomplete, or of that
     * resource manager) and is not complete stays behind for a later drain, so it is only ever drained
     * rewritten.
     */
    public WalAppend drain() {
        Lsn upTo = end;
        var inProgress = decoder.pendingRecord();
        if (inProgress.isPresent() && (inProgress.get().rmid() < 0
                || InPlaceTablespaces.mayNeedRewrite(inProgress.get().rmid(), inProgress.get().totalLength()))) {
            upTo = Lsn.max(undrained, inProgress.get().start());
        }
        int n = (int) upTo.minus(undrained);
        if (n == 0) {
            return null;
        }
        WalAppend a = index.drainInto(timeline, undrained, Arrays.copyOf(buffer, n));
        System.arraycopy(buffer, n, buffer, 0, pending - n);
        pending -= n;
        undrained = upTo;
        return a;
    }

    /** Start of what {@link #drain()} has not given out yet (bytes held back included). */
    public Lsn drained() {
        return undrained;
    }
}
