package dev.zenith.wal.rewrite;

import dev.zenith.testkit.PgCluster;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.dump.WaldumpFormat;
import dev.zenith.wal.record.DecodedRecord;
import dev.zenith.wal.segment.WalGeometry;
import dev.zenith.wal.segment.WalSegments;
import dev.zenith.wal.testing.Decoding;
import dev.zenith.wal.testing.GeneratedWal;
import dev.zenith.wal.testing.WalCrafter;
import dev.zenith.wal.testing.WaldumpOutput;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Tablespace/CREATE records rewritten to in-place ones where they lie in WAL: the record's header split
 * across pages, its location across a page boundary, the whole across a segment boundary. pg_waldump
 * reads the result, every CRC holds, and nothing else changed.
 */
@Tag("pg")
class InPlaceTablespacesTest {
    private static final long SEG1 = WalGeometry.WAL_SEGMENT_SIZE;
    private static final String LONG_PATH = "/srv/space/" + "x".repeat(900);

    @Test
    void rewritesOnlyOutsideCreationsWhereverTheyAreSplit() throws Exception {
        WalCrafter crafter = new WalCrafter(Lsn.of(SEG1), 1, 0x1234_5678_9ABCL);
        crafter.noop(10);
        crafter.fillUntil(SEG1 + 8192 + 8184); // 8 header bytes on one page, 16 on the next
        WalCrafter.Crafted headerSplit = crafter.tablespaceCreate(16384, "/srv/space/a");
        crafter.fillUntil(SEG1 + 4 * 8192 - 200); // the location crosses the page boundary
        WalCrafter.Crafted pathSplit = crafter.tablespaceCreate(16385, LONG_PATH);
        WalCrafter.Crafted inPlace = crafter.tablespaceCreate(16386, "");
        WalCrafter.Crafted drop = crafter.record(5, 0x10, new byte[] {1, 0x40, 0, 0});
        crafter.fillUntil(2 * SEG1 - 16); // header split across the segment boundary
        WalCrafter.Crafted segmentSplit = crafter.tablespaceCreate(16387, LONG_PATH);
        crafter.noop(1);
        byte[] original = crafter.segments();

        byte[] wal = original.clone();
        int patched = 0;
        for (DecodedRecord r : Decoding.decode(Lsn.of(SEG1), original, 8192).records()) {
            for (WalPatch p : InPlaceTablespaces.patches(r)) {
                assertTrue(p.applyTo(wal, 0, wal.length, Lsn.of(SEG1)));
                assertEquals(WalSegments.pageStart(p.at().value()), WalSegments.pageStart(p.end().value() - 1),
                        "a patch stays within one page");
                patched++;
            }
        }
        assertTrue(patched >= 6, "each split record needs patches on both sides of its split");

        Decoding.Outcome after = Decoding.decode(Lsn.of(SEG1), wal, 8192);
        assertEquals(crafter.records().size(), after.records().size(), "every record still decodes, CRCs included: "
                + after.end());
        Map<Lsn, DecodedRecord> byLsn = after.records().stream().collect(Collectors.toMap(DecodedRecord::startLsn, r -> r));
        for (WalCrafter.Crafted c : List.of(headerSplit, pathSplit, segmentSplit, inPlace)) {
            DecodedRecord r = byLsn.get(c.start());
            assertEquals(c.totalLength(), r.totalLength(), "same length: later LSNs do not move");
            byte[] location = Arrays.copyOfRange(r.rawBytes(), r.mainDataOffset() + 4, r.mainDataOffset() + r.mainDataLength());
            assertArrayEquals(new byte[location.length], location, "the location is gone, to its last byte");
            assertEquals(Arrays.toString(Arrays.copyOfRange(c.mainData(), 0, 4)),
                    Arrays.toString(Arrays.copyOfRange(r.rawBytes(), r.mainDataOffset(), r.mainDataOffset() + 4)), "same OID");
        }
        assertEquals(List.of(), InPlaceTablespaces.patches(byLsn.get(inPlace.start())));
        assertEquals(List.of(), InPlaceTablespaces.patches(byLsn.get(drop.start())));
        // Outside the rewritten records not one byte changed.
        List<DecodedRecord> before = Decoding.decode(Lsn.of(SEG1), original, 8192).records();
        for (DecodedRecord r : before) {
            if (InPlaceTablespaces.patches(r).isEmpty()) {
                assertArrayEquals(r.rawBytes(), byLsn.get(r.startLsn()).rawBytes(), r.toString());
            }
        }

        PgCluster pg = GeneratedWal.get().cluster();
        Path dir = pg.scratch("in-place-tablespaces");
        for (int s = 0; s * WalGeometry.WAL_SEGMENT_SIZE < wal.length; s++) {
            Files.write(dir.resolve(WalSegments.fileName(1, 1 + s)),
                    Arrays.copyOfRange(wal, s * WalGeometry.WAL_SEGMENT_SIZE, (s + 1) * WalGeometry.WAL_SEGMENT_SIZE));
        }
        pg.installation().handOver(dir);
        String out = GeneratedWal.runStdout(pg, "pg_waldump", List.of("-p", dir.toString(),
                WalSegments.fileName(1, 1), WalSegments.fileName(1, 2)));
        Map<String, String> desc = WaldumpOutput.parse(out).stream()
                .collect(Collectors.toMap(WaldumpOutput.Entry::lsn, WaldumpOutput.Entry::desc));
        assertEquals(crafter.records().size(), desc.size(), out);
        assertEquals("CREATE 16384 \"\"", desc.get(WaldumpFormat.lsn(headerSplit.start())));
        assertEquals("CREATE 16385 \"\"", desc.get(WaldumpFormat.lsn(pathSplit.start())));
        assertEquals("CREATE 16387 \"\"", desc.get(WaldumpFormat.lsn(segmentSplit.start())));
    }
}
