package dev.zenith.wal.change;

import dev.zenith.wal.RelTag;
import dev.zenith.wal.record.DecodedRecord;
import dev.zenith.wal.testing.Decoding;
import dev.zenith.wal.testing.GeneratedWal;
import dev.zenith.wal.testing.RelationFiles;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.util.Map;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The relation-size model, seeded with initdb's files and moved through the real WAL that followed
 * (CREATE DATABASE both ways, DROP DATABASE, TRUNCATE, VACUUM truncation, dropped tables, aborted
 * and prepared transactions), ends with the forks the cleanly stopped cluster has on disk.
 */
@Tag("pg")
class RelationSizesTest {
    @Test
    void replayingTheWalGivesTheForksOnDisk() throws Exception {
        GeneratedWal wal = GeneratedWal.get();
        RelationFiles.State start = wal.initialState();
        RelationSizes sizes = new RelationSizes(start.forks(), start.databases());
        int applied = 0;
        for (DecodedRecord r : Decoding.decode(wal.firstSegmentStart(), wal.stream(), 64 * 1024).records()) {
            if (r.startLsn().isAfter(start.checkpoint())) {
                sizes.apply(r);
                applied++;
            }
        }
        assertTrue(applied > 10_000, applied + " records after initdb");
        RelationFiles.State end = RelationFiles.State.of(wal.cluster().dataDir());
        Map<String, Long> expected = new TreeMap<>();
        end.forks().forEach((rel, n) -> {
            if (RelationSizes.tracks(rel.fork())) {
                expected.put(rel.path(), n);
            }
        });
        Map<String, Long> actual = new TreeMap<>();
        sizes.forks().forEach((rel, n) -> actual.put(rel.path(), n));
        assertEquals(expected, actual);
        assertEquals(end.databases(), sizes.databases());
    }
}
