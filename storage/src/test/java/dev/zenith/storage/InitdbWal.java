package dev.zenith.storage;

import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.storage.wal.WalIndex;
import dev.zenith.testkit.PgCluster;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.decoder.DecodeResult;
import dev.zenith.wal.decoder.WalStreamDecoder;
import dev.zenith.wal.record.DecodedRecord;
import dev.zenith.wal.segment.WalSegments;

import java.io.IOException;
import java.nio.file.Files;
import java.util.Arrays;
import java.util.List;

/**
 * Test fixture: real WAL, initdb's first segment up to the end of its last record, with its record
 * ends; and stores holding a prefix of it, indexed the way the WAL receiver indexes what it streams.
 */
public final class InitdbWal implements AutoCloseable {
    /** Where the WAL starts: the first segment. */
    public static final Lsn SEG = Lsn.of(WalSegments.segmentStart(1));

    private final PgCluster pg;
    private final byte[] wal;
    private final List<Lsn> recordEnds;

    private InitdbWal(PgCluster pg, byte[] wal, List<Lsn> recordEnds) {
        this.pg = pg;
        this.wal = wal;
        this.recordEnds = recordEnds;
    }

    public static InitdbWal create() throws IOException {
        PgCluster pg = PgCluster.initdb();
        byte[] segment = Files.readAllBytes(pg.walDir().resolve("000000010000000000000001"));
        List<Lsn> ends = WalStreamDecoder.recordEnds(SEG, segment);
        return new InitdbWal(pg, Arrays.copyOf(segment, (int) ends.get(ends.size() - 1).minus(SEG)), ends);
    }

    /** All of it (a copy). */
    public byte[] bytes() {
        return wal.clone();
    }

    public Lsn end() {
        return SEG.plus(wal.length);
    }

    /** The end of the record at {@code fraction} (0..1) of the way through the WAL, plus {@code later} records. */
    public Lsn recordEnd(double fraction, int later) {
        return recordEnds.get((int) (recordEnds.size() * fraction) + later);
    }

    public byte[] slice(Lsn from, Lsn to) {
        return Arrays.copyOfRange(wal, (int) from.minus(SEG), (int) to.minus(SEG));
    }

    /** A new timeline in {@code store} holding the WAL up to {@code upTo} (a record end). */
    public TimelineId storeUpTo(Store store, Lsn upTo) {
        return storeIndexed(store, SEG, slice(SEG, upTo));
    }

    /** A new timeline in {@code store} holding {@code wal} (from {@code start}), indexed as the WAL receiver indexes. */
    public static TimelineId storeIndexed(Store store, Lsn start, byte[] wal) {
        TimelineId tl = store.timelines().create(null, Lsn.INVALID, 1).id();
        WalStreamDecoder d = WalStreamDecoder.startingAt(start);
        d.feed(wal, 0, wal.length);
        WalIndex index = new WalIndex();
        for (DecodeResult r = d.poll(); r instanceof DecodedRecord rec; r = d.poll()) {
            index.add(rec);
        }
        store.wal().append(List.of(index.drainInto(tl, start, wal)));
        return tl;
    }

    @Override
    public void close() {
        pg.close();
    }
}
