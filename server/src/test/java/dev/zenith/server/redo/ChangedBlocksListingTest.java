package dev.zenith.server.redo;

import dev.zenith.storage.Store;
import dev.zenith.storage.image.RelationFilter;
import dev.zenith.storage.index.PageIndex;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.storage.wal.BlockRef;
import dev.zenith.testkit.PgCluster;
import dev.zenith.wal.ForkNumber;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.record.DecodedRecord;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The blocks changed in a range, listed from the LSN-ordered side of the index ({@code changes_by_lsn}, then a seek
 * per block), equal the walk of every block the page index holds, with the same last change each: on real WAL holding
 * visibility-map bits cleared by heap updates without a map reference, a TRUNCATE, a VACUUM that cuts a table (and the
 * tail of its map), DROP TABLE, CREATE DATABASE by WAL_LOG and by FILE_COPY (blocks copied without a reference), DROP
 * DATABASE, on the root and on a branch (ranges across its branch point too), for every pair of named points and
 * anchors. The block references alone miss some of those blocks (checked: the cases are in the WAL), and the listing
 * did not walk.
 */
@Tag("pg")
class ChangedBlocksListingTest {
    private static final Map<String, String> COMPUTE = Map.of("full_page_writes", "off", "checkpoint_timeout", "30s",
            "wal_keep_size", "8GB", "max_wal_size", "8GB", "autovacuum", "off");

    @Test
    void listingByLsnEqualsTheWalkOfEveryBlock() throws Exception {
        try (RecordedCompute rc = RecordedCompute.start(COMPUTE, c -> c.pgbench("-i", "-s", "1", "-q"))) {
            PgCluster c = rc.cluster();
            c.psql("VACUUM pgbench_accounts"); // all-visible: the updates below clear map bits without a map reference
            rc.mark("vacuumed");
            c.pgbench("-n", "-c", "2", "-j", "2", "-t", "150");
            rc.mark("pgbench");
            c.psql("CHECKPOINT");
            OracleSteps.truncate(rc);
            OracleSteps.vacuumTruncating(rc);
            c.psql("CREATE TABLE doomed AS SELECT g AS a FROM generate_series(1, 3000) g");
            rc.mark("before DROP TABLE");
            c.psql("DROP TABLE doomed");
            rc.mark("DROP TABLE");
            int copied = OracleSteps.createDatabases(rc);
            OracleSteps.dropDatabase(rc);
            c.psql("VACUUM pgbench_accounts");
            c.pgbench("-n", "-c", "2", "-j", "2", "-t", "100");
            rc.mark("pgbench again");
            rc.finish();
            check(rc, copied);
        }
    }

    private static void check(RecordedCompute rc, int copiedDatabase) throws IOException {
        List<DecodedRecord> records = rc.records();
        Lsn start = rc.imageAnchor().checkpointLsn();
        Lsn end = records.get(records.size() - 1).endLsn();
        Map<String, Lsn> marks = rc.marks();
        Lsn branchPoint = marks.get("pgbench");
        try (Store store = Store.open(rc.cluster().scratch("store"))) {
            TimelineId root = store.timelines().create(null, Lsn.INVALID, 1).id();
            store.images().importDataDirectory(root, rc.image(), start, rc.imageAnchor().redoLsn(), RelationFilter.all());
            PageIndexOracleTest.append(store, root, rc, start, end);
            TimelineId branch = store.timelines().create(root, branchPoint, 1).id();
            PageIndexOracleTest.append(store, branch, rc, branchPoint, end);
            PageIndex index = store.index();
            index.indexer().catchUp(root, end);
            index.indexer().catchUp(branch, end);

            TreeSet<Lsn> points = new TreeSet<>(marks.values());
            points.add(rc.imageAnchor().redoLsn());
            rc.anchors().forEach(a -> points.add(a.anchor().redoLsn())); // where ready directories are written
            points.add(end);
            List<Lsn> at = new ArrayList<>(points);
            Map<String, String> problems = new LinkedHashMap<>();
            Set<String> missedByReferences = new HashSet<>();
            int ranges = 0;
            long blocks = 0;
            long listingNanos = 0;
            long walkNanos = 0;
            for (int i = 0; i < at.size(); i++) {
                for (int j = i + 1; j < at.size(); j++) {
                    Lsn a = at.get(i);
                    Lsn b = at.get(j);
                    for (TimelineId tl : b.isAfter(branchPoint) ? List.of(root, branch) : List.of(root)) {
                        long walks = index.walks();
                        long began = System.nanoTime();
                        Map<BlockRef, Lsn> listed = index.changedBlocksListed(tl, a, b, Long.MAX_VALUE);
                        long between = System.nanoTime();
                        if (index.walks() != walks) {
                            problems.put(where(tl, branch, a, b), "walked");
                        }
                        Map<BlockRef, Lsn> walked = index.changedBlocks(tl, a, b);
                        listingNanos += between - began;
                        walkNanos += System.nanoTime() - between;
                        if (!listed.equals(walked)) {
                            problems.put(where(tl, branch, a, b), difference(walked, listed));
                        }
                        Set<BlockRef> references = store.changes().changedBlocks(tl, a, b);
                        for (BlockRef r : walked.keySet()) {
                            if (!references.contains(r)) {
                                missedByReferences.add(r.rel().node().dbOid() == copiedDatabase ? "copied"
                                        : r.rel().fork() == ForkNumber.VISIBILITY_MAP ? "map" : "other");
                            }
                        }
                        ranges++;
                        blocks += walked.size();
                    }
                }
            }
            System.out.println("changed blocks listed by LSN against the walk: " + ranges + " ranges, " + blocks
                    + " blocks (listing " + listingNanos / 1_000_000 + " ms, walk " + walkNanos / 1_000_000
                    + " ms in all); the references alone miss " + missedByReferences + "; problems " + problems);
            assertEquals(Map.of(), problems);
            // a range holding more references than the budget is walked, with the same answer
            long walks = index.walks();
            assertEquals(index.changedBlocks(branch, start, end), index.changedBlocksListed(branch, start, end, 1000));
            assertEquals(walks + 2, index.walks());
            assertTrue(ranges > 50 && blocks > 10_000, ranges + " ranges, " + blocks + " blocks");
            assertTrue(missedByReferences.containsAll(Set.of("map", "copied")), "map bits cleared and copied blocks are"
                    + " in the WAL: " + missedByReferences);
        }
    }

    private static String where(TimelineId tl, TimelineId branch, Lsn a, Lsn b) {
        return "(" + a + ", " + b + "]" + (tl.equals(branch) ? " on the branch" : "");
    }

    private static String difference(Map<BlockRef, Lsn> walked, Map<BlockRef, Lsn> listed) {
        List<String> out = new ArrayList<>();
        walked.forEach((r, lsn) -> {
            if (!lsn.equals(listed.get(r))) {
                out.add(r + " walk " + lsn + ", listing " + listed.get(r));
            }
        });
        listed.forEach((r, lsn) -> {
            if (!walked.containsKey(r)) {
                out.add(r + " only listed at " + lsn);
            }
        });
        return out.size() + " differ: " + out.subList(0, Math.min(10, out.size()));
    }
}
