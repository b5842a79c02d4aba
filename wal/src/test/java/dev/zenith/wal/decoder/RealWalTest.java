package dev.zenith.wal.decoder;

import dev.zenith.wal.Lsn;
import dev.zenith.wal.dump.WaldumpFormat;
import dev.zenith.wal.image.PageHeaderCheck;
import dev.zenith.wal.record.BlockReference;
import dev.zenith.wal.record.DecodedRecord;
import dev.zenith.wal.record.ImageCompression;
import dev.zenith.wal.record.ResourceManager;
import dev.zenith.wal.rmgr.CheckpointRecord;
import dev.zenith.wal.rmgr.DbaseCreate;
import dev.zenith.wal.rmgr.DbaseDrop;
import dev.zenith.wal.rmgr.MainDataDecoder;
import dev.zenith.wal.rmgr.PgTimestamp;
import dev.zenith.wal.rmgr.RecordDescriber;
import dev.zenith.wal.rmgr.RelmapUpdate;
import dev.zenith.wal.rmgr.SmgrCreate;
import dev.zenith.wal.rmgr.SmgrTruncate;
import dev.zenith.wal.rmgr.WalPayload;
import dev.zenith.wal.rmgr.XactCompletion;
import dev.zenith.wal.rmgr.XlogSwitch;
import dev.zenith.wal.segment.WalGeometry;
import dev.zenith.wal.testing.Decoding;
import dev.zenith.wal.testing.GeneratedWal;
import dev.zenith.wal.testing.WaldumpOutput;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.util.EnumMap;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Decodes WAL from a real PostgreSQL 15 pgbench run and holds it against pg_waldump on the same files. */
@Tag("pg")
class RealWalTest {
    private static GeneratedWal wal;
    private static byte[] stream;
    private static Decoding.Outcome decoded;
    private static List<WaldumpOutput.Entry> oracle;

    @BeforeAll
    static void decodeOnce() throws Exception {
        wal = GeneratedWal.get();
        stream = wal.stream();
        decoded = Decoding.decode(wal.firstSegmentStart(), stream, 64 * 1024);
        oracle = WaldumpOutput.parse(wal.waldump());
        System.out.printf("generated WAL: %d segments, %d records, valid WAL ends at %s%n", wal.segments().size(),
                decoded.records().size(), decoded.end().validEnd());
    }

    @Test
    void everyRecordMatchesPgWaldump() {
        List<DecodedRecord> ours = decoded.records();
        assertTrue(oracle.size() > 10_000, "pg_waldump listed only " + oracle.size() + " records");
        assertEquals(oracle.size(), ours.size(), "record count");
        Set<Integer> exactDescRmgrs = Set.of(ResourceManager.SMGR, ResourceManager.DBASE, ResourceManager.RELMAP);
        for (int i = 0; i < ours.size(); i++) {
            DecodedRecord r = ours.get(i);
            WaldumpOutput.Entry e = oracle.get(i);
            String where = "record " + i + " " + e.line();
            assertEquals(e.lsn(), WaldumpFormat.lsn(r.startLsn()), where);
            assertEquals(e.rmgr(), r.rmgrName(), where);
            assertEquals(e.totLen(), r.totalLength(), where);
            assertEquals(e.recLen(), r.totalLength() - r.fullPageImageBytes(), where);
            assertEquals(e.xid(), r.xid(), where);
            assertEquals(e.prev(), WaldumpFormat.lsn(r.prevLsn()), where);
            // block references: rel, fork, blk, image presence, hole and compression, exactly as printed
            assertEquals(e.blockLines(), r.blocks().stream().map(WaldumpFormat::blockLine).toList(), where);
            String id = RecordDescriber.identify(r);
            if (id != null) {
                String ourDesc = id + " " + RecordDescriber.describe(r);
                boolean exact = exactDescRmgrs.contains(r.rmid()) || isCheckpoint(r);
                if (exact) {
                    assertEquals(e.desc().strip(), ourDesc.strip(), where);
                } else {
                    assertTrue(e.desc().startsWith(ourDesc), where + "\n ours: " + ourDesc);
                }
            }
        }
    }

    private static boolean isCheckpoint(DecodedRecord r) {
        return r.rmid() == ResourceManager.XLOG && (r.rmgrInfo() == 0x00 || r.rmgrInfo() == 0x10);
    }

    @Test
    void walEndsInZerosRightAfterTheShutdownCheckpoint() {
        assertNotNull(decoded.end(), "decoder should find the end of WAL");
        assertEquals(EndReason.ZEROS, decoded.end().reason());
        DecodedRecord last = decoded.records().get(decoded.records().size() - 1);
        Optional<WalPayload> p = MainDataDecoder.decode(last);
        assertTrue(p.isPresent() && p.get() instanceof CheckpointRecord c && c.shutdown(), last.toString());
        assertEquals(last.nextRecordLsn(), decoded.end().validEnd());
    }

    @Test
    void recordBoundariesChainAndEndsAreConsistent() {
        List<DecodedRecord> rs = decoded.records();
        for (int i = 1; i < rs.size(); i++) {
            DecodedRecord prev = rs.get(i - 1);
            DecodedRecord r = rs.get(i);
            assertEquals(prev.startLsn(), r.prevLsn());
            assertEquals(prev.nextRecordLsn(), r.startLsn(), "next record start after " + prev);
            assertTrue(prev.endLsn().value() - prev.startLsn().value() >= prev.totalLength());
        }
    }

    @Test
    void everyFullPageImageRestoresToAValidPageForEveryCompressionMethod() {
        Map<ImageCompression, Integer> perMethod = new EnumMap<>(ImageCompression.class);
        int images = 0;
        for (DecodedRecord r : decoded.records()) {
            for (BlockReference b : r.blocks()) {
                if (!b.hasImage()) {
                    continue;
                }
                images++;
                perMethod.merge(b.compression(), 1, Integer::sum);
                if (b.compression() != ImageCompression.NONE) {
                    byte[] raw = new byte[WalGeometry.BLCKSZ];
                    byte[] src = new byte[b.imageLength()];
                    b.imageBytes().get(src);
                    assertEquals(WalGeometry.BLCKSZ - b.holeLength(), dev.zenith.wal.image.PageImages.decompress(
                            b.compression(), src, 0, src.length, raw, WalGeometry.BLCKSZ - b.holeLength()),
                            "decompressed length of " + r);
                }
                byte[] page = b.restorePage();
                assertEquals(WalGeometry.BLCKSZ, page.length);
                assertNull(PageHeaderCheck.problem(page), "restored page of " + r + " block " + b.blockId());
                for (int i = b.holeOffset(); i < b.holeOffset() + b.holeLength(); i++) {
                    assertEquals(0, page[i], "hole byte " + i);
                }
            }
        }
        assertTrue(images > 1000, "only " + images + " images");
        for (ImageCompression m : ImageCompression.values()) {
            assertTrue(perMethod.getOrDefault(m, 0) > 50, "images compressed with " + m + ": " + perMethod);
        }
    }

    @Test
    void typedMainDataOfTheRecordsTheStoreNeeds() {
        Map<Class<?>, Integer> seen = new HashMap<>();
        boolean abortWithDroppedRel = false;
        boolean commitPrepared = false;
        boolean abortPreparedWithDroppedRel = false;
        boolean onlineCheckpoint = false;
        boolean shutdownCheckpoint = false;
        for (DecodedRecord r : decoded.records()) {
            Optional<WalPayload> p = MainDataDecoder.decode(r);
            if (p.isEmpty()) {
                continue;
            }
            seen.merge(p.get().getClass(), 1, Integer::sum);
            if (p.get() instanceof XactCompletion x) {
                assertEquals(PgTimestamp.toInstant(x.xactTime()), x.instant());
                assertEquals(x.xactTime(), PgTimestamp.fromInstant(x.instant()));
                if (x.kind() == XactCompletion.Kind.ABORT && !x.droppedRelations().isEmpty()) {
                    abortWithDroppedRel = true;
                }
                if (x.kind() == XactCompletion.Kind.COMMIT_PREPARED) {
                    commitPrepared = x.twoPhaseXid() != 0;
                }
                if (x.kind() == XactCompletion.Kind.ABORT_PREPARED) {
                    abortPreparedWithDroppedRel = x.twoPhaseXid() != 0 && x.droppedRelations().size() == 1;
                }
            }
            if (p.get() instanceof CheckpointRecord c) {
                onlineCheckpoint |= !c.shutdown();
                shutdownCheckpoint |= c.shutdown();
                assertEquals(1, c.checkpoint().thisTimeLineId());
                assertTrue(c.checkpoint().redo().compareTo(r.startLsn()) <= 0, "redo after its checkpoint: " + r);
            }
        }
        for (Class<?> k : List.of(CheckpointRecord.class, XlogSwitch.class, XactCompletion.class, SmgrCreate.class,
                SmgrTruncate.class, DbaseCreate.class, DbaseDrop.class, RelmapUpdate.class)) {
            assertTrue(seen.containsKey(k), "no " + k.getSimpleName() + " in " + seen.keySet());
        }
        assertTrue(abortWithDroppedRel, "the rolled-back CREATE TABLE should drop its file at abort");
        assertTrue(commitPrepared, "COMMIT PREPARED with the prepared transaction's xid");
        assertTrue(abortPreparedWithDroppedRel, "ROLLBACK PREPARED dropping the table it created");
        assertTrue(onlineCheckpoint && shutdownCheckpoint);
    }

    @Test
    void anyChunkingGivesTheSameRecords() {
        Random random = new Random(42);
        // one byte at a time over the first 300 KiB, then random chunks: same records, same end
        int[] fed = {0};
        Decoding.Outcome odd = Decoding.decode(WalStreamDecoder.startingAt(wal.firstSegmentStart()), stream, 0, () -> {
            int n = fed[0] < 300 * 1024 ? 1 : 1 + random.nextInt(40_000);
            fed[0] += n;
            return n;
        });
        assertEquals(decoded.records().size(), odd.records().size());
        for (int i = 0; i < odd.records().size(); i++) {
            DecodedRecord a = decoded.records().get(i);
            DecodedRecord b = odd.records().get(i);
            assertEquals(a.startLsn(), b.startLsn());
            assertEquals(a.endLsn(), b.endLsn());
            assertTrue(java.util.Arrays.equals(a.rawBytes(), b.rawBytes()), "bytes of " + a);
        }
        assertEquals(decoded.end(), odd.end());
    }

    @Test
    void startingAtAnyPageBoundaryFindsTheFirstWholeRecord() {
        List<DecodedRecord> rs = decoded.records();
        Random random = new Random(7);
        for (int k = 0; k < 40; k++) {
            DecodedRecord pick = rs.get(1 + random.nextInt(rs.size() - 2));
            long page = (pick.startLsn().value() + 8192) & ~8191L; // a page boundary after this record starts
            int from = (int) (page - wal.firstSegmentStart().value());
            Decoding.Outcome o = Decoding.decode(WalStreamDecoder.startingAt(Lsn.of(page)), stream, from, () -> 100_000);
            DecodedRecord expected = rs.stream().filter(r -> r.startLsn().value() >= page).findFirst().orElseThrow();
            assertEquals(expected.startLsn(), o.firstRecord(), "first record after page " + Lsn.of(page));
            assertEquals(expected.startLsn(), o.records().get(0).startLsn());
            assertEquals(rs.get(rs.size() - 1).startLsn(), o.records().get(o.records().size() - 1).startLsn());
        }
    }

    @Test
    void resumingAtAMidPageRecordStartContinuesTheChain() {
        DecodedRecord resume = decoded.records().stream()
                .filter(r -> r.startLsn().value() % 8192 > 100 && r.startLsn().value() > wal.firstSegmentStart().value()
                        + WalGeometry.WAL_SEGMENT_SIZE)
                .findFirst().orElseThrow();
        int from = (int) (resume.startLsn().value() - wal.firstSegmentStart().value());
        WalStreamDecoder d = WalStreamDecoder.builder(resume.startLsn()).previousRecord(resume.prevLsn()).timeline(1).build();
        Decoding.Outcome o = Decoding.decode(d, stream, from, () -> 5000);
        assertEquals(resume.startLsn(), o.records().get(0).startLsn());
        assertEquals(decoded.end(), o.end());
        // a wrong previous-record LSN is caught at the first record
        WalStreamDecoder wrong = WalStreamDecoder.builder(resume.startLsn()).previousRecord(resume.startLsn()).build();
        Decoding.Outcome bad = Decoding.decode(wrong, stream, from, () -> 5000);
        assertEquals(EndReason.BAD_PREV_LINK, bad.end().reason());
        assertEquals(resume.startLsn(), bad.end().validEnd());
    }
}
