package dev.zenith.server.redo;

import dev.zenith.server.history.HistoryDiff;
import dev.zenith.server.history.HistoryPoint;
import dev.zenith.server.history.HistoryPoints;
import dev.zenith.server.history.Snapshot;
import dev.zenith.storage.Store;
import dev.zenith.storage.image.RelationFilter;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.storage.wal.BlockRef;
import dev.zenith.storage.wal.CommitRecord;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.record.BlockReference;
import dev.zenith.wal.record.DecodedRecord;
import dev.zenith.wal.rmgr.MainDataDecoder;
import dev.zenith.wal.rmgr.XactCompletion;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.assertAll;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The change index answers for the records between two points of the history, records ending in (from, to], while it
 * keeps each change under its record's start: on real WAL, for every record that changes blocks, the blocks changed
 * between the point before it (the previous record's end, or its own start) and its end are exactly its own. A point at
 * an 8-byte-aligned record end is where the next record starts: that record is after the point (a snapshot diff from
 * there holds its pages), and a branch at that point does not see it, nor its commit when travelling by time.
 */
@Tag("pg")
class ChangesBetweenPointsTest {

    @Test
    void theRecordsBetweenTwoPointsAreThoseEndingAfterTheFirstAndAtOrBeforeTheSecond() throws Exception {
        try (RecordedCompute rc = RecordedCompute.start(Map.of("autovacuum", "off"),
                c -> c.psql("CREATE TABLE t (a int, b text); CREATE TABLE u (a int)"))) {
            // rows of varying length: records of varying length, some ending 8-byte aligned
            rc.cluster().psql("INSERT INTO t SELECT g, repeat('x', g % 37) FROM generate_series(1, 300) g;"
                    + " INSERT INTO u SELECT generate_series(1, 50); UPDATE t SET b = b || 'y' WHERE a % 5 = 0;"
                    + " CREATE INDEX ON t (a)");
            StringBuilder commits = new StringBuilder(); // commit records after records of varying length
            for (int i = 0; i < 60; i++) {
                commits.append("BEGIN; INSERT INTO t VALUES (").append(i).append(", repeat('z', ").append(i).append(")); COMMIT; ");
            }
            rc.cluster().psql(commits.toString());
            rc.mark("load");
            rc.finish();
            List<DecodedRecord> records = rc.records();
            Lsn start = rc.imageAnchor().checkpointLsn();
            Lsn end = records.get(records.size() - 1).endLsn();
            try (Store store = Store.open(rc.cluster().scratch("store"))) {
                TimelineId root = store.timelines().create(null, Lsn.INVALID, 1).id();
                store.images().importDataDirectory(root, rc.image(), start, rc.imageAnchor().redoLsn(), RelationFilter.all());
                PageIndexOracleTest.append(store, root, rc, start, end);

                Map<String, String> problems = new LinkedHashMap<>();
                int checked = 0;
                int afterAlignedEnds = 0;
                DecodedRecord branchBefore = null; // a record whose aligned end the next one, changing other blocks, starts at
                DecodedRecord diffed = null; // a record starting at an aligned end, ending unaligned
                DecodedRecord commitAtBranch = null; // a commit starting at an aligned end
                for (int i = 1; i < records.size(); i++) {
                    DecodedRecord previous = records.get(i - 1);
                    DecodedRecord r = records.get(i);
                    if (!r.startLsn().isAfter(start)) {
                        continue;
                    }
                    if (commitAtBranch == null && previous.endLsn().equals(r.startLsn()) && commitTime(r) != null) {
                        commitAtBranch = r;
                    }
                    if (r.blocks().isEmpty()) {
                        continue;
                    }
                    Set<BlockRef> own = blocks(r);
                    for (Lsn from : new LinkedHashSet<>(List.of(previous.endLsn(), r.startLsn()))) { // equal at an aligned end
                        Set<BlockRef> between = store.changes().changedBlocks(root, from, r.endLsn());
                        if (!between.equals(own)) {
                            problems.put("(" + from + ", " + r.endLsn() + "]", own + " listed as " + between);
                        }
                    }
                    checked++;
                    if (previous.endLsn().equals(r.startLsn())) {
                        afterAlignedEnds++;
                        if (branchBefore == null && !previous.blocks().isEmpty() && !blocks(previous).containsAll(own)) {
                            branchBefore = previous;
                        }
                        if (diffed == null && r.endLsn().value() % 8 != 0) {
                            diffed = r;
                        }
                    }
                }
                System.out.println(checked + " records changing blocks, " + afterAlignedEnds
                        + " of them starting at the previous one's end; " + problems.size() + " ranges listed wrong");
                assertTrue(afterAlignedEnds > 0, "the WAL holds records starting right at the previous record's end");
                assertNotNull(branchBefore, "a record whose next one starts at its end and changes other blocks");
                assertNotNull(diffed, "a record starting at an aligned end");
                assertNotNull(commitAtBranch, "a commit starting at an aligned end");
                DecodedRecord atBranch = branchBefore;
                DecodedRecord inDiff = diffed;
                DecodedRecord commit = commitAtBranch;
                assertAll(
                        () -> assertEquals(Map.of(), first(problems, 5), problems.size() + " ranges listed wrong, the first"),
                        // a branch at an aligned end: the parent's record starting there is not in the branch's history
                        () -> {
                            TimelineId branch = store.timelines().create(root, atBranch.endLsn(), 1).id();
                            assertEquals(blocks(atBranch), store.changes().changedBlocks(branch, atBranch.startLsn(), end),
                                    "changed on a branch at " + atBranch.endLsn() + " since " + atBranch.startLsn());
                        },
                        // a snapshot diff from a point at an aligned end holds the pages of the record that starts there
                        () -> {
                            HistoryPoint before = HistoryPoints.resolve(store, root, inDiff.startLsn().toString(), null);
                            HistoryPoint after = HistoryPoints.resolve(store, root, inDiff.endLsn().toString(), null);
                            assertEquals(inDiff.startLsn(), before.lsn());
                            assertEquals(inDiff.endLsn(), after.lsn());
                            HistoryDiff.Diff diff = HistoryDiff.between(store, snapshot("before", before), snapshot("after", after));
                            assertEquals(blocks(inDiff).size(), diff.pagesChanged(),
                                    "pages of the diff from " + before.lsn() + " to " + after.lsn());
                        },
                        // time travel on a branch at an aligned end: the parent's commit starting there is not its own
                        () -> {
                            TimelineId branch = store.timelines().create(root, commit.startLsn(), 1).id();
                            Lsn found = store.changes().lastCommitAtOrBefore(branch, commitTime(commit))
                                    .map(CommitRecord::recordLsn).orElse(Lsn.INVALID);
                            assertTrue(found.isBefore(commit.startLsn()), "the last commit on a branch at "
                                    + commit.startLsn() + " by its time is at " + found);
                        });
            }
        }
    }

    private static Set<BlockRef> blocks(DecodedRecord r) {
        Set<BlockRef> out = new TreeSet<>();
        for (BlockReference b : r.blocks()) {
            out.add(new BlockRef(b.rel(), (int) b.blockNumber()));
        }
        return out;
    }

    /** A commit record's time, or null for any other record. */
    private static Instant commitTime(DecodedRecord r) {
        return MainDataDecoder.decode(r).filter(p -> p instanceof XactCompletion x && x.isCommit())
                .map(p -> ((XactCompletion) p).instant()).orElse(null);
    }

    private static Map<String, String> first(Map<String, String> problems, int n) {
        Map<String, String> out = new LinkedHashMap<>();
        problems.entrySet().stream().limit(n).forEach(e -> out.put(e.getKey(), e.getValue()));
        return out;
    }

    private static Snapshot snapshot(String name, HistoryPoint p) {
        return new Snapshot("pg", name, "storage", p.timeline(), p.lsn(), p.commitTime(), Instant.now());
    }
}
