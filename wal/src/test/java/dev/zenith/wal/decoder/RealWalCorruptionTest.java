package dev.zenith.wal.decoder;

import dev.zenith.wal.Lsn;
import dev.zenith.wal.bytes.LittleEndian;
import dev.zenith.wal.record.DecodedRecord;
import dev.zenith.wal.record.RecordCrc;
import dev.zenith.wal.record.RecordHeader;
import dev.zenith.wal.segment.WalGeometry;
import dev.zenith.wal.segment.WalSegments;
import dev.zenith.wal.testing.Decoding;
import dev.zenith.wal.testing.GeneratedWal;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** Damage to real PostgreSQL WAL, each kind detected and reported at the right LSN. */
@Tag("pg")
class RealWalCorruptionTest {
    private static Lsn start;
    private static byte[] wal;
    private static List<DecodedRecord> records;
    private static DecodedRecord inPage;
    private static DecodedRecord spanning;

    @BeforeAll
    static void load() throws Exception {
        GeneratedWal g = GeneratedWal.get();
        start = g.firstSegmentStart();
        wal = Arrays.copyOf(g.stream(), 3 * WalGeometry.WAL_SEGMENT_SIZE); // enough, and quick to decode
        records = Decoding.decode(start, wal, 1 << 20).records();
        long middle = start.value() + WalGeometry.WAL_SEGMENT_SIZE + 12345;
        inPage = records.stream().filter(r -> r.startLsn().value() > middle && r.totalLength() > 60
                && WalSegments.pageStart(r.startLsn().value()) == WalSegments.pageStart(r.endLsn().value() - 1))
                .findFirst().orElseThrow();
        spanning = records.stream().filter(r -> r.startLsn().value() > middle
                && WalSegments.pageStart(r.startLsn().value()) != WalSegments.pageStart(r.endLsn().value() - 1))
                .findFirst().orElseThrow();
    }

    private static int at(Lsn lsn) {
        return (int) (lsn.value() - start.value());
    }

    private static Decoding.Outcome decode(byte[] damaged) {
        return Decoding.decode(start, damaged, 256 * 1024);
    }

    private static int indexOf(DecodedRecord r) {
        return records.indexOf(r);
    }

    @Test
    void aFlippedByteIsABadCrcAtThatRecord() {
        byte[] b = wal.clone();
        b[at(inPage.startLsn()) + inPage.totalLength() - 3] ^= 0x10;
        Decoding.Outcome o = decode(b);
        assertEquals(EndReason.BAD_CRC, o.end().reason());
        assertEquals(inPage.startLsn(), o.end().validEnd());
        assertEquals(indexOf(inPage), o.records().size());
    }

    @Test
    void aTruncatedRecordWaitsForMoreDataThenEndsAtItsStartWhenTheRestIsZeros() {
        int cut = at(inPage.startLsn()) + inPage.totalLength() / 2;
        Decoding.Outcome partial = decode(Arrays.copyOf(wal, cut));
        assertEquals(null, partial.end(), "a stream that just stops is not the end of WAL yet");
        assertEquals(indexOf(inPage), partial.records().size());

        byte[] b = wal.clone();
        Arrays.fill(b, cut, b.length, (byte) 0);
        Decoding.Outcome o = decode(b);
        assertEquals(EndReason.BAD_CRC, o.end().reason());
        assertEquals(inPage.startLsn(), o.end().validEnd());
    }

    @Test
    void aRecordCutAcrossAPageEndsAtItsStart() {
        long nextPage = WalSegments.pageStart(spanning.startLsn().value()) + WalGeometry.XLOG_BLCKSZ;
        byte[] b = wal.clone();
        Arrays.fill(b, at(Lsn.of(nextPage)), b.length, (byte) 0);
        Decoding.Outcome o = decode(b);
        assertEquals(EndReason.ZEROS, o.end().reason());
        assertEquals(spanning.startLsn(), o.end().validEnd());
        assertEquals(Lsn.of(nextPage), o.end().problemAt());
        assertEquals(indexOf(spanning), o.records().size());
    }

    @Test
    void garbageInsteadOfAPageHeader() {
        long nextPage = WalSegments.pageStart(spanning.startLsn().value()) + WalGeometry.XLOG_BLCKSZ;
        byte[] b = wal.clone();
        for (int i = 0; i < 24; i++) {
            b[at(Lsn.of(nextPage)) + i] = (byte) (i * 37 + 11);
        }
        Decoding.Outcome o = decode(b);
        assertEquals(EndReason.BAD_MAGIC, o.end().reason());
        assertEquals(spanning.startLsn(), o.end().validEnd());
        assertEquals(Lsn.of(nextPage), o.end().problemAt());
    }

    @Test
    void aStalePrevLinkWithAValidCrcIsABadPrevLink() {
        byte[] b = wal.clone();
        int r = at(inPage.startLsn());
        LittleEndian.put64(b, r + RecordHeader.PREV, inPage.prevLsn().value() - 8);
        LittleEndian.put32(b, r + RecordHeader.CRC, RecordCrc.compute(b, r, inPage.totalLength()));
        Decoding.Outcome o = decode(b);
        assertEquals(EndReason.BAD_PREV_LINK, o.end().reason());
        assertEquals(inPage.startLsn(), o.end().validEnd());
    }

    @Test
    void aBogusLengthIsReported() {
        byte[] b = wal.clone();
        LittleEndian.put32(b, at(inPage.startLsn()), 7);
        Decoding.Outcome o = decode(b);
        assertEquals(EndReason.BOGUS_LENGTH, o.end().reason());
        assertEquals(inPage.startLsn(), o.end().validEnd());
    }
}
