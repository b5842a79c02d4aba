package dev.zenith.wal.segment;

import dev.zenith.testkit.PgCluster;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.decoder.EndReason;
import dev.zenith.wal.dump.WaldumpFormat;
import dev.zenith.wal.record.DecodedRecord;
import dev.zenith.wal.testing.Decoding;
import dev.zenith.wal.testing.GeneratedWal;
import dev.zenith.wal.testing.WaldumpOutput;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** Segment files cut at an exact LSN from streamed WAL: pg_waldump sees WAL end exactly there. */
class WalSegmentWriterTest {
    @Test
    @Tag("pg")
    void writesSegmentsUpToAnExactLsnAndZeroesTheRest() throws Exception {
        GeneratedWal g = GeneratedWal.get();
        byte[] stream = Arrays.copyOf(g.stream(), 3 * WalGeometry.WAL_SEGMENT_SIZE);
        Lsn start = g.firstSegmentStart();
        List<DecodedRecord> records = Decoding.decode(start, stream, 1 << 20).records();
        long target = start.value() + WalGeometry.WAL_SEGMENT_SIZE + WalGeometry.WAL_SEGMENT_SIZE / 2;
        int lastIndex = 0;
        while (records.get(lastIndex + 1).startLsn().value() < target) {
            lastIndex++;
        }
        DecodedRecord last = records.get(lastIndex);
        Lsn end = last.endLsn();

        // streamed in odd pieces past the end, as the WAL receiver would have it
        WalSegmentWriter w = new WalSegmentWriter(1, start);
        int endOffset = (int) (end.value() - start.value());
        List<WalSegmentWriter.SegmentFile> files = new ArrayList<>();
        for (int p = 0; p < endOffset + 100_000; p += 77_777) {
            w.append(stream, p, Math.min(77_777, endOffset + 100_000 - p));
            files.addAll(w.takeCompleted());
        }
        assertThrows(IllegalArgumentException.class, () -> w.finish(w.position().plus(1)));
        files.addAll(w.finish(end));
        assertEquals(List.of(WalSegments.fileName(1, 1), WalSegments.fileName(1, 2)),
                files.stream().map(WalSegmentWriter.SegmentFile::fileName).toList());

        byte[] written = new byte[files.size() * WalGeometry.WAL_SEGMENT_SIZE];
        for (int i = 0; i < files.size(); i++) {
            assertEquals(WalGeometry.WAL_SEGMENT_SIZE, files.get(i).contents().length);
            System.arraycopy(files.get(i).contents(), 0, written, i * WalGeometry.WAL_SEGMENT_SIZE, WalGeometry.WAL_SEGMENT_SIZE);
        }
        assertArrayEquals(Arrays.copyOf(stream, endOffset), Arrays.copyOf(written, endOffset));
        for (int i = endOffset; i < written.length; i++) {
            assertEquals(0, written[i], "byte after the end at offset " + i);
        }

        Decoding.Outcome ours = Decoding.decode(start, written, 1 << 20);
        assertEquals(lastIndex + 1, ours.records().size());
        assertEquals(EndReason.ZEROS, ours.end().reason());
        assertEquals(last.nextRecordLsn(), ours.end().validEnd());

        PgCluster pg = g.cluster();
        Path dir = pg.scratch("written-wal");
        for (WalSegmentWriter.SegmentFile f : files) {
            Files.write(dir.resolve(f.fileName()), f.contents());
        }
        pg.installation().handOver(dir);
        List<WaldumpOutput.Entry> dumped = WaldumpOutput.parse(GeneratedWal.runStdout(pg, "pg_waldump",
                List.of("-p", dir.toString(), files.get(0).fileName(), files.get(files.size() - 1).fileName())));
        assertEquals(lastIndex + 1, dumped.size());
        assertEquals(WaldumpFormat.lsn(last.startLsn()), dumped.get(dumped.size() - 1).lsn());
    }

    @Test
    void skippedBytesStayZeroAndTheWalAroundThemIsWhereItBelongs() {
        int page = WalGeometry.XLOG_BLCKSZ;
        Lsn segment = Lsn.of(WalSegments.segmentStart(3));
        WalSegmentWriter w = new WalSegmentWriter(1, segment);
        byte[] head = new byte[page];
        Arrays.fill(head, (byte) 1);
        w.append(head, 0, page);
        Lsn resume = segment.plus(5L * page);
        w.skipTo(resume);
        assertEquals(resume, w.position());
        byte[] tail = new byte[page + 100];
        Arrays.fill(tail, (byte) 2);
        w.append(tail, 0, tail.length);
        assertThrows(IllegalArgumentException.class, () -> w.skipTo(resume), "backwards");
        assertThrows(IllegalArgumentException.class, () -> w.skipTo(Lsn.of(WalSegments.segmentStart(4) + page)),
                "into the next segment");
        byte[] contents = w.finish(w.position()).get(0).contents();
        assertArrayEquals(head, Arrays.copyOfRange(contents, 0, page));
        assertArrayEquals(new byte[4 * page], Arrays.copyOfRange(contents, page, 5 * page));
        assertArrayEquals(tail, Arrays.copyOfRange(contents, 5 * page, 5 * page + tail.length));
    }
}
