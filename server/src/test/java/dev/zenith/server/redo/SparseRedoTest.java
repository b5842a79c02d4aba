package dev.zenith.server.redo;

import dev.zenith.server.anchor.Anchor;
import dev.zenith.server.anchor.AnchorCapture;
import dev.zenith.server.testing.CheckedVertx;
import dev.zenith.storage.image.DataDirectoryLayout;
import dev.zenith.storage.wal.BlockRef;
import dev.zenith.testkit.PgCluster;
import dev.zenith.wal.ForkNumber;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.RelFileNode;
import dev.zenith.wal.RelTag;
import dev.zenith.wal.record.DecodedRecord;
import dev.zenith.wal.segment.WalSegments;
import io.vertx.core.Vertx;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.HashSet;
import java.util.SortedSet;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Sparse redo with a real PostgreSQL 15: a handful of blocks of a table, its visibility map and its
 * index, replayed from an image anchor, equal a full crash recovery of the whole directory; runs
 * that cannot work hand out nothing and leave nothing behind; a killed daemon's runs are cleared.
 */
@Tag("pg")
class SparseRedoTest {
    private static PgCluster cluster;
    private static Path image;
    private static Anchor imageAnchor;
    private static ScratchArea area;
    private static SparseRedo redo;
    private static List<DecodedRecord> records;
    private static RelTag table;
    private static RelTag index;

    @BeforeAll
    static void computeWithAnImageAndWalAfterIt() throws IOException {
        cluster = PgCluster.initdb();
        cluster.configure(Map.of("full_page_writes", "off", "autovacuum", "off", "wal_keep_size", "1GB"));
        cluster.start();
        cluster.psql("CREATE TABLE t (a int PRIMARY KEY, b text) WITH (fillfactor = 50)");
        cluster.psql("INSERT INTO t SELECT g, repeat('x', 40) FROM generate_series(1, 20000) g");
        cluster.psql("VACUUM (FREEZE) t");
        table = rel(cluster.psql("SELECT pg_relation_filepath('t')"));
        index = rel(cluster.psql("SELECT pg_relation_filepath('t_pkey')"));
        cluster.stop();
        image = cluster.scratch("image");
        ReferenceDirectory.copyTree(cluster.dataDir(), image);
        imageAnchor = AnchorCapture.ofStoppedDirectory(image);
        cluster.start();
        cluster.psql("UPDATE t SET b = 'updated' WHERE a % 97 = 0"); // clears map bits of many pages
        // enough WAL that replay takes a while: a run must wait for its end, not stop PostgreSQL midway
        cluster.psql("UPDATE t SET b = b || 'y'");
        cluster.psql("UPDATE t SET b = b || 'z'");
        cluster.psql("INSERT INTO t SELECT g, 'new' FROM generate_series(20001, 21000) g");
        cluster.psql("DELETE FROM t WHERE a BETWEEN 5000 AND 5100");
        cluster.psql("SELECT count(*) FROM t"); // hint bits: FPI_FOR_HINT without images
        cluster.stop();
        records = WalFiles.records(cluster.walDir(), imageAnchor.pgTimeline(), imageAnchor.redoLsn());
        area = ScratchArea.open(cluster.scratch("redo"), cluster.installation());
        redo = new SparseRedo(cluster.installation(), area, RedoSettings.defaults());
    }

    @AfterAll
    static void removeCluster() {
        if (cluster != null) {
            cluster.close();
        }
    }

    private static RelTag rel(String filepath) {
        String[] p = filepath.split("/"); // base/DB/REL
        return RelTag.of(RelFileNode.DEFAULT_TABLESPACE, Integer.parseInt(p[1]), Integer.parseInt(p[2]), ForkNumber.MAIN);
    }

    private static SortedSet<BlockRef> someBlocks() {
        SortedSet<BlockRef> wanted = new TreeSet<>();
        for (int b : new int[] {0, 1, 2, 50, 97, 300, 401}) {
            wanted.add(new BlockRef(table, b));
        }
        wanted.add(new BlockRef(new RelTag(table.node(), ForkNumber.VISIBILITY_MAP), 0));
        for (int b = 0; b < 6; b++) {
            wanted.add(new BlockRef(index, b));
        }
        wanted.add(new BlockRef(table, 100_000)); // beyond the end: absent
        return wanted;
    }

    private RedoRequest request(Lsn target, SortedSet<BlockRef> wanted, PageSource pages) throws IOException {
        return request(target, wanted, pages, WalSource.segmentDirectory(cluster.walDir()));
    }

    /** The WAL from the image's segment on, as one byte stream (what a receiver holds). */
    private static WalSource walBytes() throws IOException {
        long segno = WalSegments.segmentNumber(imageAnchor.redoLsn().value());
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        for (long s = segno; ; s++) {
            Path f = cluster.walDir().resolve(WalSegments.fileName(imageAnchor.pgTimeline(), s));
            if (!Files.exists(f)) {
                break;
            }
            out.write(Files.readAllBytes(f));
        }
        return WalSource.bytes(Lsn.of(WalSegments.segmentStart(segno)), out.toByteArray());
    }

    private RedoRequest request(Lsn target, SortedSet<BlockRef> wanted, PageSource pages, WalSource wal)
            throws IOException {
        DataDirectoryLayout.Scan scan = DataDirectoryLayout.scan(image);
        Map<String, byte[]> files = new HashMap<>();
        for (String f : scan.files()) {
            files.put(f, Files.readAllBytes(image.resolve(f)));
        }
        return new RedoRequest(imageAnchor, target, wanted, pages, Map.of(),
                new ScratchBase(new TreeSet<>(scan.directories()), files), wal);
    }

    @Test
    void wantedBlocksEqualAFullCrashRecovery() throws IOException {
        DirectoryPages start = new DirectoryPages(image);
        Lsn middle = records.get(records.size() / 2).endLsn();
        for (Lsn target : List.of(middle, records.get(records.size() - 1).endLsn())) {
            Path ref = ReferenceDirectory.build(cluster.installation(), image, WalSource.segmentDirectory(cluster.walDir()),
                    target, cluster.scratch("reference-" + target.value()));
            ForkFiles refPages = new ForkFiles(ref);
            Map<BlockRef, byte[]> got = new HashMap<>();
            List<BlockRef> absent = new ArrayList<>();
            // the first target's WAL comes as bytes, the second's as segment files
            WalSource wal = target.equals(middle) ? walBytes() : WalSource.segmentDirectory(cluster.walDir());
            RedoReport report = redo.run(request(target, someBlocks(), start, wal), (b, page) -> {
                if (page == null) {
                    absent.add(b);
                } else {
                    got.put(b, page);
                }
            });
            System.out.println("sparse redo to " + target + ": " + report);
            assertTrue(absent.contains(new BlockRef(table, 100_000)));
            for (BlockRef b : absent) {
                assertNull(refPages.read(b.rel(), b.block()), b + " exists in the reference");
            }
            int changed = 0;
            for (Map.Entry<BlockRef, byte[]> e : got.entrySet()) {
                byte[] expected = refPages.read(e.getKey().rel(), e.getKey().block());
                assertNotNull(expected, e.getKey() + " is not in the reference");
                assertArrayEquals(expected, e.getValue(), e.getKey() + " differs from the reference");
                byte[] before = start.page(e.getKey());
                changed += before == null || !java.util.Arrays.equals(before, e.getValue()) ? 1 : 0;
            }
            refPages.close();
            assertTrue(changed >= 5, "replay changed only " + changed + " of the wanted blocks");
            assertEquals(0, area.clearLeftovers(), "the run removed its scratch directory");
        }
    }

    /**
     * A run makes a free-space map's file (zeros as long as the base's) only where its answer depends on the map: the
     * maps' lengths are wanted, or a wanted block is one of its pages. Every map of the base was made before (hundreds
     * in a real directory, the catalogs'), half a read's preparation. The wanted pages are byte-equal either way: no
     * other fork's redo reads a map, and heap redo creates one it writes to.
     */
    @Test
    void freeSpaceMapsAreMadeOnlyWhereTheAnswerDependsOnThem() throws IOException {
        Lsn target = records.get(records.size() - 1).endLsn();
        Map<RelTag, Long> maps = new HashMap<>();
        DataDirectoryLayout.scan(image).forks().forEach((rel, segments) -> {
            if (rel.fork() == ForkNumber.FSM) {
                maps.put(rel, segments.stream().mapToLong(f -> f.toFile().length()).sum() / 8192);
            }
        });
        RelTag tableMap = new RelTag(table.node(), ForkNumber.FSM);
        assertTrue(maps.containsKey(tableMap) && maps.size() > 20, "the image's maps: " + maps.keySet());
        SortedSet<BlockRef> wanted = someBlocks();
        wanted.add(new BlockRef(tableMap, 0));
        Set<RelTag> referenced = new HashSet<>();
        for (DecodedRecord r : records) {
            r.blocks().forEach(b -> referenced.add(new RelTag(b.rel().node(), ForkNumber.FSM)));
        }
        RedoRequest base = request(target, wanted, new DirectoryPages(image));
        RedoRequest request = new RedoRequest(base.anchor(), target, wanted, base.startingPages(), maps, base.base(),
                base.wal());

        List<Runnable> removals = new ArrayList<>();
        area.removeFinishedOn(removals::add); // the runs' directories stay until looked at
        try {
            Map<BlockRef, byte[]> pages = new HashMap<>();
            redo.run(request, (b, page) -> pages.put(b, page));
            Path run = runDirectory(removals);
            Set<RelTag> made = new HashSet<>();
            DataDirectoryLayout.scan(run.resolve("data")).forks().keySet().forEach(rel -> {
                if (rel.fork() == ForkNumber.FSM) {
                    made.add(rel);
                }
            });
            assertTrue(made.contains(tableMap), "a wanted block's map is made: " + made);
            for (RelTag rel : made) {
                assertTrue(rel.equals(tableMap) || referenced.contains(rel), rel.path() + " was made, yet nothing"
                        + " wanted is in it and no record replayed touches its relation");
            }
            assertTrue(made.size() < maps.size() / 2, made.size() + " of the base's " + maps.size() + " maps made");
            removals.remove(0).run();

            Map<BlockRef, byte[]> withMaps = new HashMap<>();
            Map<RelTag, Long> lengths = new HashMap<>();
            redo.run(request, new PageSink() {
                @Override
                public void accept(BlockRef b, byte[] page) {
                    withMaps.put(b, page);
                }

                @Override
                public boolean wantsFreeSpaceMaps() {
                    return true;
                }

                @Override
                public void acceptFreeSpaceMaps(Map<RelTag, Long> found) {
                    lengths.putAll(found);
                }
            });
            removals.remove(0).run();
            assertTrue(lengths.keySet().containsAll(maps.keySet()), "every map of the base is there when the lengths"
                    + " are wanted: " + lengths.keySet());
            assertEquals(withMaps.keySet(), pages.keySet());
            for (Map.Entry<BlockRef, byte[]> e : withMaps.entrySet()) {
                assertArrayEquals(e.getValue(), pages.get(e.getKey()), e.getKey() + " differs with every map made");
            }
        } finally {
            area.removeFinishedOn(Runnable::run);
            removals.forEach(Runnable::run);
        }
    }

    /**
     * A run from the anchor of a run checked before, given a WAL that only grows ({@link WalSource#growsOnly}), checks
     * only the WAL after that run's target: here the earlier part of the second run's WAL is damaged and not read,
     * and what the check finds (records, FILE_COPY databases, checked blocks) equals a check of the whole range.
     * A source that makes no such promise, or a damaged part after the earlier target, is read whole and refused.
     */
    @Test
    void aLaterRunChecksOnlyTheWalAfterAnEarlierRunsTarget() throws IOException {
        Lsn middle = records.get(records.size() / 2).endLsn();
        Lsn end = records.get(records.size() - 1).endLsn();
        int tli = imageAnchor.pgTimeline();
        WalSource wal = WalSource.segmentDirectory(cluster.walDir());
        Path first = Files.createDirectories(cluster.scratch("wal-check-first"));
        wal.writeSegments(tli, imageAnchor.redoLsn(), middle, first);
        RedoWal.Checked atMiddle = RedoWal.check(first, imageAnchor, middle, tli, false, null);
        assertEquals(middle, atMiddle.target());

        Path later = Files.createDirectories(cluster.scratch("wal-check-later"));
        wal.writeSegments(tli, imageAnchor.redoLsn(), end, later);
        RedoWal.Facts whole = RedoWal.check(later, imageAnchor, end, tli, false);
        Lsn damaged = records.get(records.size() / 4).startLsn();
        flip(later, damaged.plus(30));
        RedoWal.Checked goneOn = RedoWal.check(later, imageAnchor, end, tli, false, atMiddle);
        assertEquals(whole, goneOn.facts(), "going on from " + middle + " finds what a check of the whole range does");
        assertEquals(records.size(), goneOn.facts().records());
        assertThrows(RedoException.class, () -> RedoWal.check(later, imageAnchor, end, tli, false),
                "read whole, the damage at " + damaged + " is found");

        flip(later, damaged.plus(30));
        Lsn afterMiddle = records.get(records.size() * 3 / 4).startLsn();
        flip(later, afterMiddle.plus(30));
        assertThrows(RedoException.class, () -> RedoWal.check(later, imageAnchor, end, tli, false, atMiddle),
                "damage after the earlier target at " + afterMiddle + " is found");
    }

    /**
     * Runs given one source of a WAL that only grows go on from the previous run's check; each still replays the whole
     * range from the anchor and its pages equal a full crash recovery's (the check only reads less).
     */
    @Test
    void runsFromOneAnchorOnAGrowingWalEqualAFullCrashRecovery() throws IOException {
        WalSource files = WalSource.segmentDirectory(cluster.walDir());
        WalSource growing = new WalSource() {
            @Override
            public void writeSegments(int pgTimeline, Lsn from, Lsn to, Path walDir) throws IOException {
                files.writeSegments(pgTimeline, from, to, walDir);
            }

            @Override
            public boolean growsOnly() {
                return true;
            }
        };
        SparseRedo runs = new SparseRedo(cluster.installation(), area, RedoSettings.defaults());
        Lsn end = records.get(records.size() - 1).endLsn();
        for (Lsn target : List.of(records.get(records.size() / 3).endLsn(), end)) {
            Map<BlockRef, byte[]> got = new HashMap<>();
            RedoReport report = runs.run(request(target, someBlocks(), new DirectoryPages(image), growing), got::put);
            long expected = records.stream().filter(r -> !r.endLsn().isAfter(target)).count();
            assertEquals(expected, report.walRecords(), "records replayed to " + target);
            if (target.equals(end)) {
                Path ref = ReferenceDirectory.build(cluster.installation(), image, files, target,
                        cluster.scratch("reference-growing"));
                try (ForkFiles refPages = new ForkFiles(ref)) {
                    for (Map.Entry<BlockRef, byte[]> e : got.entrySet()) {
                        byte[] want = refPages.read(e.getKey().rel(), e.getKey().block());
                        if (want == null) {
                            assertNull(e.getValue(), e.getKey() + " is not in the reference");
                        } else {
                            assertArrayEquals(want, e.getValue(), e.getKey() + " differs from the reference");
                        }
                    }
                }
            }
        }
    }

    /** Flips one bit of the WAL byte at {@code at} in the segment files of {@code walDir}. */
    private static void flip(Path walDir, Lsn at) throws IOException {
        Path file = walDir.resolve(WalSegments.fileName(imageAnchor.pgTimeline(), WalSegments.segmentNumber(at.value())));
        try (java.io.RandomAccessFile f = new java.io.RandomAccessFile(file.toFile(), "rw")) {
            f.seek(WalSegments.segmentOffset(at.value()));
            int b = f.read();
            f.seek(WalSegments.segmentOffset(at.value()));
            f.write(b ^ 1);
        }
    }

    /** The one run directory in the area (its removal held). */
    private static Path runDirectory(List<Runnable> removals) throws IOException {
        assertEquals(1, removals.size(), "one run ended");
        try (var runs = Files.list(area.root())) {
            List<Path> all = runs.filter(p -> p.getFileName().toString().startsWith("run-")).toList();
            assertEquals(1, all.size(), "run directories: " + all);
            return all.get(0);
        }
    }

    @Test
    void aRunThatFailsHandsOutNothingAndLeavesNothing() throws IOException {
        Lsn target = records.get(records.size() - 1).endLsn();
        PageSource corrupt = block -> {
            byte[] page = new DirectoryPages(image).page(block);
            if (page != null && block.equals(new BlockRef(table, 97))) {
                page[4000] ^= 1; // the checksum no longer matches: PostgreSQL refuses to replay on it
            }
            return page;
        };
        List<BlockRef> handedOut = new ArrayList<>();
        RedoException e = assertThrows(RedoException.class,
                () -> redo.run(request(target, someBlocks(), corrupt), (b, p) -> handedOut.add(b)));
        assertTrue(e.getMessage().contains("invalid page") || e.getMessage().contains("checksum"), e.getMessage());
        assertEquals(List.of(), handedOut);
        assertEquals(0, area.clearLeftovers());

        Lsn notARecordEnd = target.plus(8);
        RedoException bad = assertThrows(RedoException.class,
                () -> redo.run(request(notARecordEnd, someBlocks(), new DirectoryPages(image)), (b, p) -> handedOut.add(b)));
        assertTrue(bad.getMessage().contains("not at the target"), bad.getMessage());
        assertEquals(List.of(), handedOut);
        assertEquals(0, area.clearLeftovers());
    }

    @Test
    void aKilledDaemonsRunIsStoppedAndRemovedAtTheNextStart() throws Exception {
        // a run as a daemon killed during recovery leaves it: its directory, and its postmaster running
        Path run = area.create();
        Path data = run.resolve("data");
        ReferenceDirectory.copyTree(image, data);
        RecoveryServer.writeConfiguration(data, RecoveryServer.settings(imageAnchor.controlFile(), run, "32MB"));
        cluster.installation().handOver(run);
        new RecoveryServer(cluster.installation(), data, run.resolve("postgres.log"), Duration.ofMinutes(2)).start();
        long pid = RecoveryServer.postmasterPid(data).orElseThrow();
        assertTrue(ProcessHandle.of(pid).isPresent());

        ScratchArea reopened = ScratchArea.open(area.root(), cluster.installation());
        assertFalse(Files.exists(run), "the unfinished run's directory is gone");
        assertTrue(dev.zenith.pgexec.Processes.awaitExit(pid, 10_000), "its postmaster was stopped");
        assertEquals(0, reopened.clearLeftovers());
    }

    @Test
    void refusesToBlockAnEventLoop() throws Exception {
        Vertx vertx = CheckedVertx.create();
        try {
            CompletableFuture<Throwable> thrown = new CompletableFuture<>();
            RedoRequest request = request(records.get(records.size() - 1).endLsn(), someBlocks(), new DirectoryPages(image));
            vertx.runOnContext(v -> {
                try {
                    redo.run(request, (b, p) -> { });
                    thrown.complete(null);
                } catch (Throwable t) {
                    thrown.complete(t);
                }
            });
            assertInstanceOf(IllegalStateException.class, thrown.get(30, TimeUnit.SECONDS));
        } finally {
            vertx.close().toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
        }
    }

    @Test
    void anchorsRefuseFilesOlderThanTheirControlFile() throws IOException {
        Map<String, byte[]> files = new HashMap<>(imageAnchor.files());
        files.keySet().removeIf(p -> p.startsWith("pg_xact/"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Anchor.of(imageAnchor.pgControl(), files));
        assertTrue(e.getMessage().contains("pg_xact"), e.getMessage());
        byte[] torn = imageAnchor.pgControl();
        torn[40] ^= 1;
        assertThrows(IllegalArgumentException.class, () -> Anchor.of(torn, imageAnchor.files()));
        assertThrows(IllegalArgumentException.class, () -> Anchor.of(imageAnchor.pgControl(), Map.of("base/1/1259", new byte[0])));
    }
}
