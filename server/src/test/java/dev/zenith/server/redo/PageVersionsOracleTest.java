package dev.zenith.server.redo;

import dev.zenith.pgexec.FileTrees;
import dev.zenith.server.anchor.Anchor;
import dev.zenith.storage.image.DataDirectoryLayout;
import dev.zenith.storage.wal.BlockRef;
import dev.zenith.testkit.PgCluster;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.RelFileNode;
import dev.zenith.wal.RelTag;
import dev.zenith.wal.change.DatabaseDir;
import dev.zenith.wal.change.RelationSizes;
import dev.zenith.wal.record.DecodedRecord;
import dev.zenith.wal.rmgr.DbaseCreate;
import dev.zenith.wal.rmgr.MainDataDecoder;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.SortedSet;
import java.util.TreeMap;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The exactness oracle for page versions. A compute runs pgbench with a 30 s checkpoint_timeout
 * (several checkpoints), CREATE INDEX of four kinds, VACUUM (FREEZE), TRUNCATE, a VACUUM that cuts
 * a table, DROP TABLE, an unlogged table, CREATE DATABASE by WAL_LOG and by FILE_COPY with writes
 * into both, DROP DATABASE, two-phase commit and row locks on frozen pages; anchors are captured
 * as the store will capture them. Then, as background materialization will: the state at each
 * anchor's redo point is made by a sparse redo run from the anchor before it (starting from the
 * image), and at LSNs sampled across the run (those redo points, right after each checkpoint
 * record, after each step above, at random) a sparse redo run from the newest usable anchor must
 * give every main, visibility-map and init-fork block of a reference directory built by full crash
 * recovery to that LSN, and the relation-size model the reference's forks and lengths.
 */
@Tag("pg")
@Tag("slow")
class PageVersionsOracleTest {
    private static final Map<String, String> COMPUTE = Map.of("full_page_writes", "off", "checkpoint_timeout", "30s",
            "checkpoint_completion_target", "0.3", "wal_keep_size", "8GB", "max_wal_size", "8GB",
            "autovacuum_naptime", "5s", "max_prepared_transactions", "4");

    /** The state a sparse run starts from: an anchor, pages at its redo point, and what else the store knows there. */
    private record Start(Anchor anchor, Lsn usableFrom, PageSource pages, Map<RelTag, Long> sizes,
                         Set<DatabaseDir> databases) {
    }

    @Test
    void sparseRedoEqualsFullCrashRecoveryAcrossARealRun() throws Exception {
        try (RecordedCompute rc = RecordedCompute.start(COMPUTE, c -> c.pgbench("-i", "-s", "2", "-q"))) {
            int copy = runWorkload(rc);
            rc.finish();
            check(rc, copy);
        }
    }

    /** Returns the OID of the database made by FILE_COPY. */
    private static int runWorkload(RecordedCompute rc) throws IOException {
        PgCluster c = rc.cluster();
        c.pgbench("-n", "-c", "4", "-j", "2", "-T", "32", "-R", "200");
        rc.mark("pgbench, first third");
        c.psql("CREATE INDEX accounts_abalance ON pgbench_accounts (abalance)");
        c.psql("CREATE INDEX history_hash ON pgbench_history USING hash (aid)");
        c.psql("CREATE TABLE docs AS SELECT g AS id, ARRAY[g % 7, g % 11] AS tags FROM generate_series(1, 5000) g");
        c.psql("CREATE INDEX docs_gin ON docs USING gin (tags)");
        c.psql("CREATE INDEX docs_brin ON docs USING brin (id)");
        rc.mark("CREATE INDEX btree, hash, gin, brin");
        c.psql("VACUUM (FREEZE) pgbench_accounts");
        rc.mark("VACUUM (FREEZE)");
        c.psql("SELECT * FROM pgbench_accounts WHERE aid = 4242 FOR UPDATE");
        c.psql("UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid % 1000 = 0");
        rc.mark("writes to frozen pages");
        OracleSteps.truncate(rc);
        OracleSteps.vacuumTruncating(rc);
        c.psql("CREATE TABLE doomed AS SELECT g AS a FROM generate_series(1, 3000) g");
        c.psql("DROP TABLE doomed");
        rc.mark("DROP TABLE");
        c.psql("CREATE UNLOGGED TABLE scratchpad (a int PRIMARY KEY)");
        c.psql("INSERT INTO scratchpad SELECT generate_series(1, 1000)");
        rc.mark("unlogged table");
        c.pgbench("-n", "-c", "4", "-j", "2", "-T", "32", "-R", "200");
        rc.mark("pgbench, second third");
        int copy = OracleSteps.createDatabases(rc);
        OracleSteps.dropDatabase(rc);
        c.psql("BEGIN; CREATE TABLE two_phase (a int); INSERT INTO two_phase VALUES (1); PREPARE TRANSACTION 'tp'");
        c.psql("COMMIT PREPARED 'tp'");
        c.psql("CREATE SEQUENCE counter; SELECT nextval('counter'), nextval('counter')");
        rc.mark("two-phase commit, sequence");
        c.pgbench("-n", "-c", "4", "-j", "2", "-T", "32", "-R", "200");
        rc.mark("pgbench, last third");
        return copy;
    }

    private static void check(RecordedCompute rc, int copy) throws IOException {
        List<DecodedRecord> records = rc.records();
        // the first record is the image's own shutdown checkpoint: its anchor is the image's
        List<RecordedCompute.CapturedAnchor> anchors = rc.anchors().stream()
                .filter(a -> a.anchor().redoLsn().isAfter(rc.imageAnchor().redoLsn())).toList();
        System.out.println("recorded " + records.size() + " records, " + anchors.size() + " anchors captured ("
                + rc.missedAnchors() + " superseded before capture), marks " + rc.marks());
        assertTrue(anchors.size() >= 3, "only " + anchors.size() + " anchors");

        // sample points: named steps, each redo point (the chain), each checkpoint record's end, a few random records
        TreeMap<Lsn, String> targets = new TreeMap<>();
        rc.marks().forEach((name, lsn) -> targets.put(lsn, name));
        Map<Lsn, Integer> chainPoints = new HashMap<>();
        for (int i = 0; i < anchors.size(); i++) {
            Lsn redo = anchors.get(i).anchor().redoLsn();
            Lsn before = lastEndAtOrBefore(records, redo);
            targets.put(before, "redo point of anchor " + (i + 1));
            chainPoints.put(before, i);
            targets.putIfAbsent(anchors.get(i).recordEnd(), "just after checkpoint record " + (i + 1));
        }
        Random random = new Random(23);
        for (int k = 0; k < 4; k++) {
            targets.putIfAbsent(records.get(random.nextInt(records.size())).endLsn(), "random record end");
        }

        Set<Lsn> stamped = new HashSet<>();
        records.forEach(r -> stamped.add(r.alignedEndLsn()));
        Path image = rc.image();
        DataDirectoryLayout.Scan imageScan = DataDirectoryLayout.scan(image);
        Map<RelTag, Long> imageSizes = PageComparison.comparedForks(image);
        Set<DatabaseDir> imageDatabases = databases(imageScan.directories());
        RelationSizes model = new RelationSizes(imageSizes, imageDatabases);
        int applied = 0;

        List<Start> starts = new ArrayList<>();
        starts.add(new Start(rc.imageAnchor(), rc.imageAnchor().checkpointLsn(), new DirectoryPages(image), imageSizes,
                imageDatabases));
        ScratchArea area = ScratchArea.open(rc.cluster().scratch("redo"), rc.cluster().installation());
        SparseRedo redo = new SparseRedo(rc.cluster().installation(), area, RedoSettings.defaults());
        WalSource wal = WalSource.segmentDirectory(rc.cluster().walDir());
        PageComparison comparison = new PageComparison();
        Map<String, String> sizeProblems = new LinkedHashMap<>();
        int n = 0;
        for (Map.Entry<Lsn, String> t : targets.entrySet()) {
            Lsn target = t.getKey();
            while (applied < records.size() && !records.get(applied).endLsn().isAfter(target)) {
                model.apply(records.get(applied++));
            }
            String where = target + " (" + t.getValue() + ")";
            Path refDir = rc.cluster().scratch("reference-" + n);
            Path reference = ReferenceDirectory.build(rc.cluster().installation(), image, wal, target, refDir);
            Map<RelTag, Long> expectedSizes = PageComparison.comparedForks(reference);
            Map<RelTag, Long> modelSizes = new TreeMap<>(RelTag.ORDER);
            modelSizes.putAll(model.forks());
            if (!modelSizes.equals(expectedSizes)) {
                sizeProblems.put(where, PageComparison.difference(expectedSizes, modelSizes, "model"));
            }
            SortedSet<BlockRef> wanted = new TreeSet<>();
            addAllBlocks(wanted, expectedSizes);
            addAllBlocks(wanted, modelSizes);

            Start start = newestUsable(starts, target);
            DirectoryPages result = new DirectoryPages(rc.cluster().scratch("state-" + n++));
            Set<BlockRef> present = new HashSet<>();
            RedoReport report = redo.run(new RedoRequest(start.anchor(), target, wanted, start.pages(), start.sizes(),
                    base(image, imageScan, start.databases()), wal), (b, page) -> {
                        result.accept(b, page);
                        if (page != null) {
                            present.add(b);
                        }
                    });
            System.out.println(where + " from the anchor at " + start.anchor().checkpointLsn() + ": " + report);
            comparison.compare(where, reference, result, present, stamped, rc.imageAnchor().checkpointLsn(), rel -> true);
            if (t.getValue().contains("FILE_COPY") || t.getValue().contains("new databases")) {
                Start beforeTheCopy = newestUsable(starts.stream()
                        .filter(s -> s.anchor().redoLsn().isBefore(fileCopyRecord(records))).toList(), target);
                onlyTheCopy(where, copy, rc, redo, beforeTheCopy, target, wanted,
                        base(image, imageScan, beforeTheCopy.databases()), wal, reference, comparison);
            }
            FileTrees.delete(refDir);
            Integer chain = chainPoints.get(target);
            if (chain != null) {
                RecordedCompute.CapturedAnchor a = anchors.get(chain);
                starts.add(new Start(a.anchor(), a.recordEnd(), result, Map.copyOf(modelSizes), model.databases()));
            } else {
                result.close();
            }
        }
        for (Start s : starts) {
            ((DirectoryPages) s.pages()).close();
        }
        System.out.println("exactness oracle over " + targets.size() + " LSNs: " + comparison);
        assertEquals(List.of(), comparison.problems);
        assertEquals(Map.of(), sizeProblems, "relation-size model against the reference's files");
        assertTrue(comparison.byteEqual > 10_000, comparison.toString());
    }

    private static Lsn fileCopyRecord(List<DecodedRecord> records) {
        return records.stream().filter(r -> MainDataDecoder.decode(r).orElse(null) instanceof DbaseCreate d
                && d.fileCopy()).findFirst().orElseThrow().startLsn();
    }

    /**
     * A run from before the CREATE DATABASE FILE_COPY wanting only the blocks of the new database:
     * replay copies the template's files as the scratch directory has them, so the run itself must
     * seed the template's blocks (the full runs want those anyway).
     */
    private static void onlyTheCopy(String where, int copy, RecordedCompute rc, SparseRedo redo, Start start,
                                    Lsn target, SortedSet<BlockRef> all, ScratchBase base, WalSource wal,
                                    Path reference, PageComparison comparison) throws IOException {
        SortedSet<BlockRef> wanted = new TreeSet<>();
        all.stream().filter(b -> b.rel().node().dbOid() == copy).forEach(wanted::add);
        System.out.println(where + ": " + wanted.size() + " blocks of the copy only, from the anchor at "
                + start.anchor().checkpointLsn());
        assertTrue(wanted.size() > 10, wanted.size() + " blocks in the copy");
        Set<BlockRef> present = new HashSet<>();
        try (DirectoryPages result = new DirectoryPages(rc.cluster().scratch("copy-only-" + target.value()))) {
            redo.run(new RedoRequest(start.anchor(), target, wanted, start.pages(), start.sizes(), base, wal), (b, page) -> {
                result.accept(b, page);
                if (page != null) {
                    present.add(b);
                }
            });
            comparison.compare(where + ", only the copy's blocks", reference, result, present, null, null,
                    rel -> rel.node().dbOid() == copy);
        }
    }

    /** The newest start whose anchor's checkpoint record ends at or before the target (replay reads it first). */
    private static Start newestUsable(List<Start> starts, Lsn target) {
        Start best = starts.get(0);
        for (Start s : starts) {
            if (!s.usableFrom().isAfter(target) && s.anchor().redoLsn().compareTo(best.anchor().redoLsn()) > 0) {
                best = s;
            }
        }
        return best;
    }

    private static Lsn lastEndAtOrBefore(List<DecodedRecord> records, Lsn lsn) {
        Lsn best = null;
        for (DecodedRecord r : records) {
            if (r.endLsn().isAfter(lsn)) {
                break;
            }
            best = r.endLsn();
        }
        return best;
    }

    private static void addAllBlocks(SortedSet<BlockRef> into, Map<RelTag, Long> forks) {
        forks.forEach((rel, blocks) -> {
            for (long b = 0; b < blocks; b++) {
                into.add(new BlockRef(rel, (int) b));
            }
        });
    }

    private static Set<DatabaseDir> databases(List<String> directories) {
        Set<DatabaseDir> out = new HashSet<>();
        for (String d : directories) {
            String[] p = d.split("/");
            if (p.length == 2 && p[0].equals("base") && p[1].matches("\\d+")) {
                out.add(new DatabaseDir(RelFileNode.DEFAULT_TABLESPACE, Integer.parseInt(p[1])));
            }
        }
        return out;
    }

    /** The image's directories and small files, with the databases that exist at the start point. */
    private static ScratchBase base(Path image, DataDirectoryLayout.Scan scan, Set<DatabaseDir> databases)
            throws IOException {
        Set<String> dirs = new TreeSet<>(scan.directories());
        for (DatabaseDir d : databases) {
            dirs.add("base/" + Integer.toUnsignedString(d.dbOid()));
        }
        Map<String, byte[]> files = new HashMap<>();
        for (String f : scan.files()) {
            files.put(f, Files.readAllBytes(image.resolve(f)));
        }
        return new ScratchBase(dirs, files);
    }
}
