package dev.zenith.wal.decoder;

import dev.zenith.testkit.PgCluster;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.bytes.LittleEndian;
import dev.zenith.wal.dump.WaldumpFormat;
import dev.zenith.wal.page.PageHeader;
import dev.zenith.wal.record.DecodedRecord;
import dev.zenith.wal.segment.WalGeometry;
import dev.zenith.wal.segment.WalSegments;
import dev.zenith.wal.testing.Decoding;
import dev.zenith.wal.testing.GeneratedWal;
import dev.zenith.wal.testing.WalCrafter;
import dev.zenith.wal.testing.WaldumpOutput;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Hand-made WAL whose records split exactly at page and segment boundaries, and its corruptions. */
class CraftedWalTest {
    private static final long SEG1 = WalGeometry.WAL_SEGMENT_SIZE; // 0/1000000
    private static WalCrafter crafter;
    private static byte[] wal;
    private static WalCrafter.Crafted headerSplit;
    private static WalCrafter.Crafted threePages;
    private static WalCrafter.Crafted crossesSegment;
    private static WalCrafter.Crafted endsAtPageEnd;
    private static WalCrafter.Crafted touching;
    private static final dev.zenith.wal.RelTag REL = dev.zenith.wal.RelTag.of(1663, 5, 16384, dev.zenith.wal.ForkNumber.MAIN);

    @BeforeAll
    static void craft() {
        crafter = new WalCrafter(Lsn.of(SEG1), 1, 0x1234_5678_9ABCL);
        crafter.noop(10);
        crafter.fillUntil(SEG1 + 8192 + 8184); // 8 header bytes on one page, 16 on the next
        headerSplit = crafter.noop(100);
        threePages = crafter.noop(20_000);
        crafter.fillUntil(SEG1 + 10 * 8192 - 64);
        endsAtPageEnd = crafter.noop(64 - 26); // ends on the last byte of a page
        crafter.noop(5);
        touching = crafter.noopTouching(REL, 42, 50);
        crafter.fillUntil(2 * SEG1 - 16); // header split across the segment boundary
        crossesSegment = crafter.noop(3000);
        crafter.noop(1);
        wal = crafter.segments();
    }

    @Test
    @Tag("pg") // the only test here that runs PostgreSQL (pg_waldump on the generated cluster)
    void pgWaldumpReadsTheCraftedRecords() throws Exception {
        PgCluster pg = GeneratedWal.get().cluster();
        Path dir = pg.scratch("crafted");
        for (int s = 0; s * WalGeometry.WAL_SEGMENT_SIZE < wal.length; s++) {
            Files.write(dir.resolve(WalSegments.fileName(1, 1 + s)),
                    java.util.Arrays.copyOfRange(wal, s * WalGeometry.WAL_SEGMENT_SIZE, (s + 1) * WalGeometry.WAL_SEGMENT_SIZE));
        }
        pg.installation().handOver(dir);
        String out = GeneratedWal.runStdout(pg, "pg_waldump", List.of("-p", dir.toString(),
                WalSegments.fileName(1, 1), WalSegments.fileName(1, 2)));
        List<String> lsns = WaldumpOutput.parse(out).stream().map(WaldumpOutput.Entry::lsn).toList();
        assertEquals(crafter.records().stream().map(c -> WaldumpFormat.lsn(c.start())).toList(), lsns);
        assertTrue(out.contains("blkref #0: rel 1663/5/16384 blk 42"), "pg_waldump sees the crafted block reference");
    }

    @Test
    void aCraftedBlockReferenceDecodes() {
        Decoding.Outcome o = Decoding.decode(Lsn.of(SEG1), wal, 8192);
        DecodedRecord r = o.records().stream().filter(x -> x.startLsn().equals(touching.start())).findFirst().orElseThrow();
        assertEquals(1, r.blocks().size());
        assertEquals(REL, r.blocks().get(0).rel());
        assertEquals(42, r.blocks().get(0).blockNumber());
    }

    @Test
    void theBoundariesLandWhereIntended() {
        assertEquals(8184, WalSegments.pageOffset(headerSplit.start().value()));
        assertTrue(threePages.totalLength() > 2 * 8192);
        assertEquals(0, WalSegments.pageOffset(endsAtPageEnd.start().value() + endsAtPageEnd.totalLength()));
        assertEquals(2 * SEG1 - 16, crossesSegment.start().value());
    }

    @Test
    void decodesIdenticallyWhateverTheChunking() {
        for (int chunk : new int[] {1, 3, 8191, 8192, 100_000, wal.length}) {
            Decoding.Outcome o = Decoding.decode(Lsn.of(SEG1), wal, chunk);
            List<WalCrafter.Crafted> expected = crafter.records();
            assertEquals(expected.size(), o.records().size(), "chunk " + chunk);
            for (int i = 0; i < expected.size(); i++) {
                DecodedRecord r = o.records().get(i);
                assertEquals(expected.get(i).start(), r.startLsn());
                assertEquals(expected.get(i).totalLength(), r.totalLength());
                byte[] data = new byte[r.mainDataLength()];
                r.mainData().get(data);
                assertArrayEquals(expected.get(i).mainData(), data);
            }
            assertEquals(EndReason.ZEROS, o.end().reason());
            assertEquals(crafter.nextRecordStart(), o.end().validEnd().value());
        }
    }

    @Test
    void endAndNextRecordAccountForPageHeaders() {
        Decoding.Outcome o = Decoding.decode(Lsn.of(SEG1), wal, 1 << 20);
        DecodedRecord split = find(o, headerSplit);
        // 8 bytes before the page end, a 24-byte short header, then the rest of the record
        assertEquals(headerSplit.start().value() + 24 + headerSplit.totalLength(), split.endLsn().value());
        DecodedRecord atPageEnd = find(o, endsAtPageEnd);
        assertEquals(0, WalSegments.pageOffset(atPageEnd.endLsn().value()));
        assertEquals(atPageEnd.endLsn().value() + 24, atPageEnd.nextRecordLsn().value());
        DecodedRecord seg = find(o, crossesSegment);
        assertEquals(crossesSegment.start().value() + 40 + crossesSegment.totalLength(), seg.endLsn().value());
    }

    private static DecodedRecord find(Decoding.Outcome o, WalCrafter.Crafted c) {
        return o.records().stream().filter(r -> r.startLsn().equals(c.start())).findFirst().orElseThrow();
    }

    @Test
    void startingInsideAContinuationSkipsToTheNextRecord() {
        long[] starts = {
            WalSegments.pageStart(threePages.start().value()) + 8192, // first continuation page
            WalSegments.pageStart(threePages.start().value()) + 2 * 8192, // second continuation page
            2 * SEG1, // the next segment, inside the record that crosses into it
            SEG1 + 8192, // the page holding the tail of a split header
        };
        for (long s : starts) {
            Decoding.Outcome o = Decoding.decode(WalStreamDecoder.startingAt(Lsn.of(s)), wal, (int) (s - SEG1), () -> 777);
            WalCrafter.Crafted expected = crafter.records().stream().filter(c -> c.start().value() > s).findFirst()
                    .orElseThrow();
            assertEquals(expected.start(), o.firstRecord(), "from " + Lsn.of(s));
            assertEquals(expected.start(), o.records().get(0).startLsn(), "from " + Lsn.of(s));
        }
    }

    @Test
    void aRecordCutAcrossAPageEndsTheWalAtItsStart() {
        long nextPage = WalSegments.pageStart(threePages.start().value()) + 8192;
        byte[] torn = wal.clone();
        java.util.Arrays.fill(torn, (int) (nextPage - SEG1), torn.length, (byte) 0);
        EndOfWal end = decodeEnd(torn);
        assertEquals(EndReason.ZEROS, end.reason());
        assertEquals(threePages.start(), end.validEnd());
        assertEquals(Lsn.of(nextPage), end.problemAt());
    }

    @Test
    void aMissingOrWrongContinuationIsReported() {
        long nextPage = WalSegments.pageStart(threePages.start().value()) + 8192;
        int at = (int) (nextPage - SEG1);
        byte[] noFlag = wal.clone();
        noFlag[at + 2] &= ~PageHeader.XLP_FIRST_IS_CONTRECORD;
        EndOfWal end = decodeEnd(noFlag);
        assertEquals(EndReason.MISSING_CONTRECORD, end.reason());
        assertEquals(threePages.start(), end.validEnd());

        byte[] wrongLength = wal.clone();
        LittleEndian.put32(wrongLength, at + 16, LittleEndian.i32(wal, at + 16) + 8);
        end = decodeEnd(wrongLength);
        assertEquals(EndReason.MISSING_CONTRECORD, end.reason());
        assertTrue(end.message().contains("invalid contrecord length"), end.message());

        // a decoder told that a page boundary is a record start refuses a page that continues one
        WalStreamDecoder d = WalStreamDecoder.builder(Lsn.of(nextPage)).startIsRecord().build();
        end = Decoding.decode(d, wal, at, () -> 8192).end();
        assertEquals(EndReason.UNEXPECTED_CONTRECORD, end.reason());
    }

    @Test
    void garbageInsteadOfAPageHeaderIsReportedWithItsLsn() {
        long page = WalSegments.pageStart(threePages.start().value()) + 2 * 8192;
        byte[] junk = wal.clone();
        for (int i = 0; i < 24; i++) {
            junk[(int) (page - SEG1) + i] = (byte) (0xA5 + i);
        }
        EndOfWal end = decodeEnd(junk);
        assertEquals(EndReason.BAD_MAGIC, end.reason());
        assertEquals(Lsn.of(page), end.problemAt());
        assertEquals(threePages.start(), end.validEnd());
    }

    @Test
    void aPageFromElsewhereHasTheWrongAddress() {
        long page = WalSegments.pageStart(threePages.start().value()) + 8192;
        byte[] stale = wal.clone();
        System.arraycopy(wal, (int) (page + 8192 - SEG1), stale, (int) (page - SEG1), 8192);
        EndOfWal end = decodeEnd(stale);
        assertEquals(EndReason.BAD_PAGE_ADDRESS, end.reason());
        assertEquals(Lsn.of(page), end.problemAt());
    }

    @Test
    void aTimelineOtherThanTheExpectedOneIsRefused() {
        WalStreamDecoder d = WalStreamDecoder.builder(Lsn.of(SEG1)).timeline(2).build();
        EndOfWal end = Decoding.decode(d, wal, 0, () -> 1 << 20).end();
        assertEquals(EndReason.BAD_TIMELINE, end.reason());
        assertEquals(Lsn.of(SEG1), end.problemAt());
    }

    @Test
    void randomCorruptionNeverThrowsAndNeverYieldsABadRecord() {
        Random random = new Random(3);
        int limit = (int) (WalSegments.pageStart(threePages.start().value()) + 4 * 8192 - SEG1);
        List<Lsn> good = crafter.records().stream().map(WalCrafter.Crafted::start).toList();
        for (int k = 0; k < 300; k++) {
            byte[] bad = java.util.Arrays.copyOf(wal, wal.length);
            int at = random.nextInt(limit);
            bad[at] ^= (byte) (1 << random.nextInt(8));
            Decoding.Outcome o = Decoding.decode(WalStreamDecoder.startingAt(Lsn.of(SEG1)), bad, 0,
                    () -> 1 + random.nextInt(20_000));
            List<Lsn> got = new ArrayList<>();
            o.records().forEach(r -> got.add(r.startLsn()));
            // whatever survives is a prefix of the real records (the flip hit padding or unused space if all do)
            assertEquals(good.subList(0, got.size()), got, "flip at " + Lsn.of(SEG1 + at));
            assertTrue(o.end() != null || got.size() == good.size(), "flip at " + Lsn.of(SEG1 + at));
        }
    }

    private static EndOfWal decodeEnd(byte[] stream) {
        return Decoding.decode(Lsn.of(SEG1), stream, 4096).end();
    }
}
