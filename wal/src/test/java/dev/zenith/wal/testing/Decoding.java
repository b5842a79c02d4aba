package dev.zenith.wal.testing;

import dev.zenith.wal.Lsn;
import dev.zenith.wal.decoder.DecodeResult;
import dev.zenith.wal.decoder.EndOfWal;
import dev.zenith.wal.decoder.WalStreamDecoder;
import dev.zenith.wal.record.DecodedRecord;

import java.util.ArrayList;
import java.util.List;
import java.util.function.IntSupplier;

/** Feeds a whole byte stream to a decoder in chunks of the given sizes and collects what comes out. */
public final class Decoding {
    public record Outcome(List<DecodedRecord> records, EndOfWal end, Lsn firstRecord) {
    }

    private Decoding() {
    }

    public static Outcome decode(WalStreamDecoder d, byte[] stream, int from, IntSupplier chunkSizes) {
        List<DecodedRecord> records = new ArrayList<>();
        int pos = from;
        while (true) {
            DecodeResult r = d.poll();
            if (r.kind() == DecodeResult.Kind.RECORD) {
                records.add((DecodedRecord) r);
            } else if (r.kind() == DecodeResult.Kind.END_OF_WAL) {
                return new Outcome(records, (EndOfWal) r, d.firstRecordLsn());
            } else if (pos < stream.length) {
                int n = Math.min(Math.max(1, chunkSizes.getAsInt()), stream.length - pos);
                d.feed(stream, pos, n);
                pos += n;
            } else {
                return new Outcome(records, null, d.firstRecordLsn());
            }
        }
    }

    public static Outcome decode(Lsn start, byte[] stream, int chunkSize) {
        return decode(WalStreamDecoder.startingAt(start), stream, 0, () -> chunkSize);
    }
}
