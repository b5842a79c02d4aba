package dev.zenith.server.anchor;

import dev.zenith.testkit.PgCluster;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.control.ControlFile;
import dev.zenith.wal.decoder.DecodeResult;
import dev.zenith.wal.decoder.WalStreamDecoder;
import dev.zenith.wal.record.DecodedRecord;
import dev.zenith.wal.rmgr.CheckPoint;
import dev.zenith.wal.rmgr.CheckpointRecord;
import dev.zenith.wal.rmgr.MainDataDecoder;
import dev.zenith.wal.segment.WalGeometry;
import dev.zenith.wal.segment.WalSegments;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Anchors taken from a running PostgreSQL 15 primary at its checkpoint records, as the daemon will
 * take them when the records arrive: only the checkpoint pg_control names, with the very contents
 * of the record, with its status files (a prepared transaction's state file among them).
 */
@Tag("pg")
class AnchorCaptureTest {
    private static PgCluster cluster;

    @BeforeAll
    static void primaryWithAPreparedTransaction() throws IOException {
        cluster = PgCluster.initdb();
        cluster.configure(Map.of("max_prepared_transactions", "2", "full_page_writes", "off"));
        cluster.start();
        cluster.psql("CREATE TABLE t (a int)");
        cluster.psql("BEGIN; INSERT INTO t VALUES (1); PREPARE TRANSACTION 'pending'");
    }

    @AfterAll
    static void remove() {
        cluster.close();
    }

    /** Runs CHECKPOINT and returns its record as the WAL has it. */
    private static DecodedRecord checkpoint() throws IOException {
        cluster.psql("CHECKPOINT");
        ControlFile control = ControlFile.parse(Files.readAllBytes(cluster.dataDir().resolve("global/pg_control")));
        return record(control.checkPoint(), control.checkPointCopy().thisTimeLineId());
    }

    private static DecodedRecord record(Lsn at, int timeline) throws IOException {
        Path segment = cluster.walDir().resolve(WalSegments.fileName(timeline, WalSegments.segmentNumber(at.value())));
        byte[] bytes = new byte[WalGeometry.WAL_SEGMENT_SIZE];
        try (RandomAccessFile f = new RandomAccessFile(segment.toFile(), "r")) {
            f.readFully(bytes);
        }
        WalStreamDecoder d = WalStreamDecoder.startingAt(at);
        int off = WalSegments.segmentOffset(at.value());
        d.feed(bytes, off, bytes.length - off);
        DecodeResult r = d.poll();
        return (DecodedRecord) r;
    }

    private static CheckPoint contents(DecodedRecord r) {
        return ((CheckpointRecord) MainDataDecoder.decode(r).orElseThrow()).checkpoint();
    }

    @Test
    void takesTheCheckpointPgControlNamesWithItsStatusFiles() throws IOException {
        DecodedRecord r = checkpoint();
        Optional<Anchor> a = AnchorCapture.capture(cluster.dataDir(), r.startLsn(), contents(r), Duration.ofSeconds(5));
        assertTrue(a.isPresent());
        assertEquals(r.startLsn(), a.get().checkpointLsn());
        assertEquals(contents(r).redo(), a.get().redoLsn());
        assertTrue(a.get().files().containsKey("pg_xact/0000"), a.get().files().keySet().toString());
        assertTrue(a.get().files().keySet().stream().anyMatch(p -> p.startsWith("pg_twophase/")),
                "the prepared transaction's state file, written by the checkpoint: " + a.get().files().keySet());
    }

    @Test
    void aCheckpointPgControlHasMovedPastIsSkippedAndOneItDoesNotNameYetIsWaitedFor() throws IOException {
        DecodedRecord first = checkpoint();
        checkpoint();
        assertEquals(Optional.empty(), AnchorCapture.capture(cluster.dataDir(), first.startLsn(), contents(first),
                Duration.ofSeconds(5)));
        Lsn future = Lsn.parse(cluster.psql("SELECT pg_current_wal_insert_lsn()")).plus(1 << 20);
        long started = System.nanoTime();
        assertEquals(Optional.empty(), AnchorCapture.capture(cluster.dataDir(), future, contents(first),
                Duration.ofMillis(300)));
        assertTrue(System.nanoTime() - started >= 300_000_000L, "it waited for pg_control");
    }

    @Test
    void aRecordWithOtherContentsThanPgControlIsAnError() throws IOException {
        DecodedRecord r = checkpoint();
        CheckPoint c = contents(r);
        CheckPoint other = new CheckPoint(c.redo(), c.thisTimeLineId(), c.prevTimeLineId(), c.fullPageWrites(),
                c.nextXid(), c.nextOid() + 1, c.nextMulti(), c.nextMultiOffset(), c.oldestXid(), c.oldestXidDb(),
                c.oldestMulti(), c.oldestMultiDb(), c.time(), c.oldestCommitTsXid(), c.newestCommitTsXid(),
                c.oldestActiveXid());
        IOException e = assertThrows(IOException.class,
                () -> AnchorCapture.capture(cluster.dataDir(), r.startLsn(), other, Duration.ofSeconds(5)));
        assertTrue(e.getMessage().contains("other contents"), e.getMessage());
    }

    @Test
    void aTornTwoPhaseFileIsNotTaken() throws IOException {
        checkpoint();
        Path copy = cluster.scratch("torn");
        try (Stream<Path> files = Files.walk(cluster.dataDir())) {
            for (Path p : (Iterable<Path>) files::iterator) {
                Path target = copy.resolve(cluster.dataDir().relativize(p).toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(target);
                } else if (!p.getFileName().toString().equals("postmaster.pid")) {
                    Files.copy(p, target);
                }
            }
        }
        Path state;
        try (Stream<Path> s = Files.list(copy.resolve("pg_twophase"))) {
            state = s.findFirst().orElseThrow();
        }
        byte[] b = Files.readAllBytes(state);
        b[b.length / 2] ^= 1;
        Files.write(state, b);
        ControlFile control = ControlFile.parse(Files.readAllBytes(copy.resolve("global/pg_control")));
        IOException e = assertThrows(IOException.class, () -> AnchorCapture.capture(copy, control.checkPoint(),
                control.checkPointCopy(), Duration.ofSeconds(5)));
        assertTrue(e.getMessage().contains("CRC"), e.getMessage());
    }
}
