package dev.zenith.storage.wal;

import dev.zenith.storage.failure.StoreCorruptException;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.decoder.DecodeResult;
import dev.zenith.wal.decoder.EndOfWal;
import dev.zenith.wal.decoder.WalStreamDecoder;

/**
 * Checks stored WAL as it is read back for PostgreSQL to replay (a compute's pg_wal, a base backup's):
 * every record from {@code from} (a record start) up to {@code to} decodes and passes its CRC-32C, so a
 * compute never meets invalid WAL before its target and takes it for the end of WAL.
 */
public final class RecordCheck {
    private final TimelineId timeline;
    private final Lsn from;
    private final Lsn to;
    private final WalStreamDecoder decoder;

    public RecordCheck(TimelineId timeline, Lsn from, Lsn to) {
        this.timeline = timeline;
        this.from = from;
        this.to = to;
        this.decoder = WalStreamDecoder.startingAt(from);
    }

    /** WAL bytes {@code [at, at + length)}, following those fed before; bytes before {@code from} are skipped. */
    public void feed(Lsn at, byte[] bytes, int offset, int length) {
        Lsn end = at.plus(length);
        if (!end.isAfter(from)) {
            return;
        }
        int skip = from.isAfter(at) ? (int) from.minus(at) : 0;
        Lsn feedEnd = Lsn.min(end, to);
        if (!feedEnd.isAfter(at.plus(skip))) {
            return;
        }
        decoder.feed(bytes, offset + skip, (int) feedEnd.minus(at.plus(skip)));
        for (DecodeResult r = decoder.poll(); r.kind() != DecodeResult.Kind.NEED_MORE_DATA; r = decoder.poll()) {
            if (r instanceof EndOfWal invalid) {
                throw new StoreCorruptException("timeline " + timeline + ": the stored WAL holds an invalid record at "
                        + invalid.problemAt() + " (" + invalid.message() + "), before " + to
                        + ", the end asked for; valid WAL ends at " + invalid.validEnd() + ", and none of it is served");
            }
        }
    }
}
