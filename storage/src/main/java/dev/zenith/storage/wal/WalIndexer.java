package dev.zenith.storage.wal;

import dev.zenith.storage.Store;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.decoder.DecodeResult;
import dev.zenith.wal.decoder.EndOfWal;
import dev.zenith.wal.decoder.WalStreamDecoder;
import dev.zenith.wal.record.DecodedRecord;

import java.io.ByteArrayOutputStream;

/**
 * Decodes WAL that continues a timeline's stored WAL and collects what the store indexes from it
 * ({@link WalIndex}). It starts at the record after the last complete stored one, re-reading the torn
 * record at the tail (if any) so that record is decoded whole once its rest arrives. Used by the WAL
 * receiver for streamed WAL and by the store when it replays its WAL journal.
 */
public final class WalIndexer {
    private static final int READ_CHUNK = 1 << 20;

    private final TimelineId timeline;
    private final WalStreamDecoder decoder;
    private final WalIndex index = new WalIndex();
    /** The decoder has seen every byte below this; it may start past the stored end (alignment padding). */
    private Lsn decoderAt;
    /** End of the bytes fed so far. */
    private Lsn end;
    /** Start of the bytes not yet drained into an append. */
    private Lsn undrained;

    private WalIndexer(TimelineId timeline, Lsn decodeFrom, Lsn storedEnd) {
        this.timeline = timeline;
        this.decoder = WalStreamDecoder.startingAt(decodeFrom);
        this.decoderAt = decodeFrom;
        this.end = storedEnd;
        this.undrained = storedEnd;
    }

    /** An indexer for the bytes that follow the timeline's stored WAL (blocking: reads the torn tail). */
    public static WalIndexer resume(Store store, TimelineId timeline) {
        Lsn walEnd = store.walEnd(timeline).orElseThrow(() -> new IllegalStateException("timeline " + timeline
                + " has no WAL"));
        Lsn recordEnd = store.lastRecordEnd(timeline).orElse(walEnd);
        WalIndexer indexer = new WalIndexer(timeline, nextRecordStart(recordEnd), walEnd);
        ByteArrayOutputStream tail = new ByteArrayOutputStream();
        for (Lsn at = indexer.decoderAt; at.isBefore(walEnd); ) {
            byte[] chunk = store.readWal(timeline, at, (int) Math.min(walEnd.minus(at), READ_CHUNK));
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
        end = newEnd;
        while (true) {
            DecodeResult r = decoder.poll();
            if (r instanceof DecodedRecord rec) {
                index.add(rec);
            } else if (r instanceof EndOfWal invalid) {
                return invalid;
            } else {
                return null;
            }
        }
    }

    /** End of the last record decoded so far, or null if none was since the last drain. */
    public Lsn lastRecordEnd() {
        return index.lastRecordEnd();
    }

    /**
     * The append of the bytes fed since the last drain ({@code bytes} must be exactly those), with
     * what was indexed from them.
     */
    public WalAppend drain(byte[] bytes) {
        if (undrained.plus(bytes.length).compareTo(end) != 0) {
            throw new IllegalArgumentException("drained " + bytes.length + " bytes from " + undrained
                    + ", but the bytes fed end at " + end);
        }
        WalAppend a = index.drainInto(timeline, undrained, bytes);
        undrained = end;
        return a;
    }
}
