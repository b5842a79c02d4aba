package dev.zenith.wal.control;

import dev.zenith.testkit.PgCluster;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.record.DecodedRecord;
import dev.zenith.wal.rmgr.CheckpointRecord;
import dev.zenith.wal.rmgr.MainDataDecoder;
import dev.zenith.wal.rmgr.WalPayload;
import dev.zenith.wal.testing.Decoding;
import dev.zenith.wal.testing.GeneratedWal;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** pg_control of a real cluster against pg_controldata, and a rewritten one that pg_controldata accepts. */
@Tag("pg")
class ControlFileTest {
    private static Map<String, String> controldata(PgCluster c, Path dataDir) throws Exception {
        Map<String, String> m = new LinkedHashMap<>();
        for (String line : c.exec("pg_controldata", "-D", dataDir.toString()).split("\n")) {
            int colon = line.indexOf(':');
            if (colon > 0) {
                m.put(line.substring(0, colon).trim(), line.substring(colon + 1).trim());
            }
        }
        return m;
    }

    @Test
    void parsesEveryFieldPgControldataShows() throws Exception {
        GeneratedWal wal = GeneratedWal.get();
        PgCluster c = wal.cluster();
        ControlFile cf = ControlFile.parse(Files.readAllBytes(c.dataDir().resolve("global/pg_control")));
        Map<String, String> pg = controldata(c, c.dataDir());

        assertEquals(pg.get("pg_control version number"), Integer.toString(cf.controlVersion()));
        assertEquals(pg.get("Catalog version number"), Integer.toString(cf.catalogVersion()));
        assertEquals(pg.get("Database system identifier"), Long.toUnsignedString(cf.systemIdentifier()));
        assertEquals(pg.get("Database cluster state"), cf.state().text());
        assertEquals(pg.get("Latest checkpoint location"), cf.checkPoint().toString());
        var cp = cf.checkPointCopy();
        assertEquals(pg.get("Latest checkpoint's REDO location"), cp.redo().toString());
        assertEquals(pg.get("Latest checkpoint's TimeLineID"), Integer.toString(cp.thisTimeLineId()));
        assertEquals(pg.get("Latest checkpoint's PrevTimeLineID"), Integer.toString(cp.prevTimeLineId()));
        assertEquals(pg.get("Latest checkpoint's full_page_writes"), cp.fullPageWrites() ? "on" : "off");
        assertEquals(pg.get("Latest checkpoint's NextXID"), cp.nextXid().toString());
        assertEquals(pg.get("Latest checkpoint's NextOID"), Long.toString(cp.nextOid()));
        assertEquals(pg.get("Latest checkpoint's NextMultiXactId"), Long.toString(cp.nextMulti()));
        assertEquals(pg.get("Latest checkpoint's NextMultiOffset"), Long.toString(cp.nextMultiOffset()));
        assertEquals(pg.get("Latest checkpoint's oldestXID"), Long.toString(cp.oldestXid()));
        assertEquals(pg.get("Latest checkpoint's oldestXID's DB"), Long.toString(cp.oldestXidDb()));
        assertEquals(pg.get("Latest checkpoint's oldestActiveXID"), Long.toString(cp.oldestActiveXid()));
        assertEquals(pg.get("Latest checkpoint's oldestMultiXid"), Long.toString(cp.oldestMulti()));
        assertEquals(pg.get("Latest checkpoint's oldestMulti's DB"), Long.toString(cp.oldestMultiDb()));
        assertEquals(pg.get("Latest checkpoint's oldestCommitTsXid"), Long.toString(cp.oldestCommitTsXid()));
        assertEquals(pg.get("Latest checkpoint's newestCommitTsXid"), Long.toString(cp.newestCommitTsXid()));
        assertEquals(pg.get("Fake LSN counter for unlogged rels"), cf.unloggedLsn().toString());
        assertEquals(pg.get("Minimum recovery ending location"), cf.minRecoveryPoint().toString());
        assertEquals(pg.get("Min recovery ending loc's timeline"), Integer.toString(cf.minRecoveryPointTimeline()));
        assertEquals(pg.get("Backup start location"), cf.backupStartPoint().toString());
        assertEquals(pg.get("Backup end location"), cf.backupEndPoint().toString());
        assertEquals(pg.get("End-of-backup record required"), cf.backupEndRequired() ? "yes" : "no");
        assertEquals(pg.get("wal_level setting"), new String[] {"minimal", "replica", "logical"}[cf.walLevel()]);
        assertEquals(pg.get("wal_log_hints setting"), cf.walLogHints() ? "on" : "off");
        assertEquals(pg.get("max_connections setting"), Integer.toString(cf.maxConnections()));
        assertEquals(pg.get("max_worker_processes setting"), Integer.toString(cf.maxWorkerProcesses()));
        assertEquals(pg.get("max_wal_senders setting"), Integer.toString(cf.maxWalSenders()));
        assertEquals(pg.get("max_prepared_xacts setting"), Integer.toString(cf.maxPreparedXacts()));
        assertEquals(pg.get("max_locks_per_xact setting"), Integer.toString(cf.maxLocksPerXact()));
        assertEquals(pg.get("track_commit_timestamp setting"), cf.trackCommitTimestamp() ? "on" : "off");
        assertEquals(pg.get("Maximum data alignment"), Integer.toString(cf.maxAlign()));
        assertEquals(pg.get("Database block size"), Integer.toString(cf.blockSize()));
        assertEquals(pg.get("Blocks per segment of large relation"), Integer.toString(cf.relationSegmentSize()));
        assertEquals(pg.get("WAL block size"), Integer.toString(cf.walBlockSize()));
        assertEquals(pg.get("Bytes per WAL segment"), Integer.toString(cf.walSegmentSize()));
        assertEquals(pg.get("Data page checksum version"), Integer.toString(cf.dataChecksumVersion()));
        assertEquals(pg.get("Mock authentication nonce"), HexFormat.of().formatHex(cf.mockAuthenticationNonce()));
        assertEquals(DbState.SHUTDOWNED, cf.state());
        assertEquals(1, cf.dataChecksumVersion(), "the test kit runs initdb with data checksums");
    }

    @Test
    void checkPointCopyIsTheCheckpointRecordInTheWal() throws Exception {
        GeneratedWal wal = GeneratedWal.get();
        ControlFile cf = ControlFile.parse(Files.readAllBytes(wal.cluster().dataDir().resolve("global/pg_control")));
        Decoding.Outcome o = Decoding.decode(wal.firstSegmentStart(), wal.stream(), 1 << 20);
        DecodedRecord at = o.records().stream().filter(r -> r.startLsn().equals(cf.checkPoint())).findFirst()
                .orElseThrow(() -> new AssertionError("no record at " + cf.checkPoint()));
        WalPayload p = MainDataDecoder.decode(at).orElseThrow();
        assertTrue(p instanceof CheckpointRecord c && c.shutdown(), at.toString());
        assertEquals(cf.checkPointCopy(), ((CheckpointRecord) p).checkpoint());
    }

    @Test
    void rewrittenFileIsAcceptedByPgControldataWithTheChanges() throws Exception {
        GeneratedWal wal = GeneratedWal.get();
        PgCluster c = wal.cluster();
        byte[] original = Files.readAllBytes(c.dataDir().resolve("global/pg_control"));
        ControlFile cf = ControlFile.parse(original);
        assertArrayEquals(original, cf.toFile(), "an unchanged file writes back byte for byte");

        Lsn minRecovery = cf.checkPoint().plus(0x1234);
        ControlFile changed = cf.withState(DbState.IN_PRODUCTION).withMinRecoveryPoint(minRecovery, 1)
                .withCheckPointCopy(cf.checkPointCopy()).withCheckPoint(cf.checkPoint());
        byte[] file = changed.toFile();
        assertEquals(ControlFile.PG_CONTROL_FILE_SIZE, file.length);

        Path dir = c.scratch("rewritten-control");
        Files.createDirectories(dir.resolve("global"));
        Files.write(dir.resolve("global/pg_control"), file);
        String out = c.exec("pg_controldata", "-D", dir.toString());
        assertFalse(out.contains("CRC"), out);
        Map<String, String> pg = controldata(c, dir);
        assertEquals("in production", pg.get("Database cluster state"));
        assertEquals(minRecovery.toString(), pg.get("Minimum recovery ending location"));
        assertEquals("1", pg.get("Min recovery ending loc's timeline"));
        assertEquals(cf.checkPoint().toString(), pg.get("Latest checkpoint location"));

        ControlFile reparsed = ControlFile.parse(file);
        assertEquals(DbState.IN_PRODUCTION, reparsed.state());
        assertEquals(cf.checkPointCopy(), reparsed.checkPointCopy());

        byte[] corrupt = file.clone();
        corrupt[40] ^= 1;
        assertThrows(IllegalArgumentException.class, () -> ControlFile.parse(corrupt));
    }
}
