package dev.zenith.server.redo;

import dev.zenith.storage.failure.StoreException;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.storage.wal.WalLog;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.decoder.DecodeResult;
import dev.zenith.wal.decoder.WalStreamDecoder;
import dev.zenith.wal.record.DecodedRecord;

/**
 * The end of the record before a record start (a redo point), from the stored WAL without decoding
 * the stretch before it: the record there names its predecessor's start (xl_prev), which is decoded
 * alone. Blocking.
 */
final class RecordBefore {
    private static final int READ = 64 << 10;

    private RecordBefore() {
    }

    /** The end of the record before the one starting at {@code start}; null when that one is the first stored. */
    static Lsn endBefore(WalLog wal, TimelineId tl, Lsn start) {
        Lsn prev = decodeAt(wal, tl, start, null).prevLsn();
        if (!prev.isValid() || wal.start(tl).map(s -> prev.isBefore(s)).orElse(true)) {
            return null;
        }
        DecodedRecord before = decodeAt(wal, tl, prev, start);
        if (!before.nextRecordLsn().equals(start)) {
            throw new StoreException("the stored WAL of timeline " + tl + " has no record ending before " + start);
        }
        return before.endLsn();
    }

    /** The record starting at {@code at}, reading up to {@code upTo} (null: as far as it takes). */
    private static DecodedRecord decodeAt(WalLog wal, TimelineId tl, Lsn at, Lsn upTo) {
        WalStreamDecoder decoder = WalStreamDecoder.startingAt(at);
        for (Lsn fed = at; upTo == null || fed.isBefore(upTo); ) {
            int n = upTo == null ? READ : (int) Math.min(READ, upTo.minus(fed));
            byte[] bytes = wal.read(tl, fed, n);
            if (bytes.length == 0) {
                break;
            }
            decoder.feed(bytes);
            fed = fed.plus(bytes.length);
            DecodeResult r = decoder.poll();
            if (r instanceof DecodedRecord rec) {
                return rec;
            }
        }
        DecodeResult r = decoder.poll();
        if (r instanceof DecodedRecord rec) {
            return rec;
        }
        throw new StoreException("no complete record at " + at + " in the stored WAL of timeline " + tl);
    }
}
