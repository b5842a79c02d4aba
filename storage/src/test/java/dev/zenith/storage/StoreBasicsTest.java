package dev.zenith.storage;

import dev.zenith.storage.failure.StoreException;
import dev.zenith.storage.failure.StoreFormatException;
import dev.zenith.storage.page.PageVersion;
import dev.zenith.storage.page.PageWrite;
import dev.zenith.storage.timeline.Timeline;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.storage.wal.BlockChange;
import dev.zenith.storage.wal.BlockRef;
import dev.zenith.storage.wal.CommitRecord;
import dev.zenith.storage.wal.WalAppend;
import dev.zenith.storage.wal.WalGapException;
import dev.zenith.storage.wal.WalLog;
import dev.zenith.wal.ForkNumber;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.RelTag;
import dev.zenith.wal.segment.WalGeometry;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Timelines, WAL, page versions and metadata on a real LMDB environment (no PostgreSQL needed). */
class StoreBasicsTest {
    private static final RelTag REL = RelTag.of(1663, 5, 16384, ForkNumber.MAIN);
    private static final Lsn SEG = Lsn.parse("0/1000000");

    @TempDir
    Path tmp;

    @Test
    void timelinesAndMetadataSurviveReopen() {
        Path dir = tmp.resolve("store");
        TimelineId root;
        TimelineId child;
        try (Store s = Store.open(dir)) {
            root = s.timelines().create(null, Lsn.INVALID, 1).id();
            child = s.timelines().create(root, Lsn.INVALID, 1).id();
            s.documents().put("pg/main", "{\"a\":1}".getBytes(StandardCharsets.UTF_8));
            s.documents().put("pg/other", new byte[] {2});
            s.documents().put("snapshot/x", new byte[] {3});
        }
        try (Store s = Store.open(dir)) {
            StoreException twice = assertThrows(StoreException.class, () -> Store.open(dir));
            assertTrue(twice.getMessage().contains("already open"), twice.getMessage());
            Timeline c = s.timelines().get(child).orElseThrow();
            assertEquals(root, c.parent());
            assertEquals(1, c.pgTimeline());
            assertEquals(Set.of(root, child), Set.copyOf(s.timelines().all().stream().map(Timeline::id).toList()));
            assertEquals(TimelineId.parse(root.toString()), root);
            assertEquals(List.of("pg/main", "pg/other"), List.copyOf(s.documents().list("pg/").keySet()));
            assertArrayEquals(new byte[] {3}, s.documents().get("snapshot/x").orElseThrow());
            assertTrue(s.documents().delete("pg/other"));
            assertFalse(s.documents().delete("pg/other"));
            assertEquals(3, s.documents().list("").size() + 1);
        }
    }

    @Test
    void aBranchReadsThroughItsAncestorsUntilGarbageCollectionDropsIt() {
        try (Store s = Store.open(tmp.resolve("store"))) {
            TimelineId root = s.timelines().create(null, Lsn.INVALID, 1).id();
            s.wal().append(List.of(WalAppend.raw(root, SEG, bytes(1000, 1))));
            byte[] page = bytes(WalGeometry.BLCKSZ, 5);
            s.pages().put(root, REL, 3, SEG.plus(100), page);
            TimelineId branch = s.timelines().create(root, SEG.plus(500), 2).id();
            // read twice: the second lineage comes from what the first one learnt
            for (int i = 0; i < 2; i++) {
                PageVersion v = s.pages().get(branch, REL, 3, SEG.plus(900)).orElseThrow();
                assertEquals(root, v.timeline());
                assertArrayEquals(page, v.page());
            }
            // the branch is in no one's use: the collection drops it, and its reads fail as for any unknown timeline
            assertEquals(List.of(branch), s.garbage().collect(java.util.Map.of(root, List.of())).timelinesFreed());
            StoreException gone = assertThrows(StoreException.class, () -> s.pages().get(branch, REL, 3, SEG.plus(900)));
            assertTrue(gone.getMessage().contains("no timeline " + branch), gone.getMessage());
            assertArrayEquals(page, s.pages().get(root, REL, 3, SEG.plus(900)).orElseThrow().page());
        }
    }

    @Test
    void refusesForeignDirectories() throws Exception {
        Path withFile = Files.createDirectories(tmp.resolve("foreign"));
        Files.writeString(withFile.resolve("notes.txt"), "hello");
        StoreFormatException e = assertThrows(StoreFormatException.class, () -> Store.open(withFile));
        assertTrue(e.getMessage().contains("notes.txt"), e.getMessage());

        Path garbage = Files.createDirectories(tmp.resolve("garbage"));
        byte[] junk = new byte[64 * 1024];
        new Random(1).nextBytes(junk);
        Files.write(garbage.resolve("data.mdb"), junk);
        assertThrows(StoreFormatException.class, () -> Store.open(garbage));
    }

    @Test
    void walAppendsAreContiguousAndAtomic() {
        try (Store s = Store.open(tmp.resolve("store"))) {
            TimelineId tl = s.timelines().create(null, Lsn.INVALID, 1).id();
            assertTrue(s.wal().end(tl).isEmpty());
            byte[] a = bytes(1000, 1);
            byte[] b = bytes(3000, 2);
            s.wal().append(List.of(WalAppend.raw(tl, SEG, a)));
            assertEquals(SEG.plus(1000), s.wal().end(tl).orElseThrow());
            // a batch whose second append leaves a gap writes nothing at all, not even the first
            WalGapException gap = assertThrows(WalGapException.class, () -> s.wal().append(List.of(
                    WalAppend.raw(tl, SEG.plus(1000), b), WalAppend.raw(tl, SEG.plus(5000), a))));
            assertEquals(SEG.plus(4000), gap.expected());
            assertEquals(SEG.plus(1000), s.wal().end(tl).orElseThrow());
            s.wal().append(List.of(new WalAppend(tl, SEG.plus(1000), b,
                    List.of(new BlockChange(REL, 7, SEG.plus(1100)), new BlockChange(REL, 7, SEG.plus(2100)),
                            new BlockChange(RelTag.of(1663, 5, 99, ForkNumber.FSM), 0, SEG.plus(3000))),
                    List.of(CommitRecord.of(SEG.plus(1200), Instant.parse("2026-11-25T10:00:00Z")),
                            CommitRecord.of(SEG.plus(2200), Instant.parse("2026-11-25T11:00:00Z"))),
                    List.of(SEG.plus(2500)), SEG.plus(3900))));
            assertEquals(SEG.plus(4000), s.wal().end(tl).orElseThrow());
            assertEquals(SEG.plus(3900), s.wal().lastRecordEnd(tl).orElseThrow());
            assertEquals(SEG, s.wal().start(tl).orElseThrow());

            byte[] all = concat(a, b);
            // any position, across the chunk boundary at 1000
            assertArrayEquals(Arrays.copyOfRange(all, 900, 1300), s.wal().read(tl, SEG.plus(900), 400));
            assertArrayEquals(Arrays.copyOfRange(all, 3990, 4000), s.wal().read(tl, SEG.plus(3990), 400));
            assertEquals(0, s.wal().read(tl, SEG.plus(4000), 10).length);
            assertThrows(StoreException.class, () -> s.wal().read(tl, Lsn.of(SEG.value() - 1), 1));

            assertEquals(Set.of(new BlockRef(REL, 7)), Set.copyOf(s.changes().changedBlocks(tl, SEG.plus(1100), SEG.plus(2100))));
            assertEquals(2, s.changes().changedBlocks(tl, SEG, SEG.plus(4000)).size());
            assertEquals(SEG.plus(1100), s.changes().lastChange(tl, REL, 7, SEG.plus(2000)).orElseThrow());
            assertTrue(s.changes().lastChange(tl, REL, 7, SEG.plus(1000)).isEmpty());
            assertEquals(List.of(SEG.plus(2500)), s.changes().checkpoints(tl, SEG, SEG.plus(4000)));
            assertEquals(SEG.plus(1200),
                    s.changes().lastCommitAtOrBefore(tl, Instant.parse("2026-11-25T10:30:00Z")).orElseThrow().recordLsn());
            assertEquals(SEG.plus(2200),
                    s.changes().lastCommitAtOrBefore(tl, Instant.parse("2026-11-25T11:00:00Z")).orElseThrow().recordLsn());
            assertTrue(s.changes().lastCommitAtOrBefore(tl, Instant.parse("2026-11-25T09:00:00Z")).isEmpty());
        }
    }

    @Test
    void lastCommitBeforeAnLsnFollowsLsnOrderThroughJitterGapsAndBranches() {
        try (Store s = Store.open(tmp.resolve("store"))) {
            TimelineId tl = s.timelines().create(null, Lsn.INVALID, 1).id();
            // 20,000 commits 100 bytes apart; time mostly grows with LSN, with concurrent commits up to
            // 50 ms out of order, bursts in the same microsecond, and quiet hours between them
            Random rnd = new Random(7);
            List<CommitRecord> commits = new java.util.ArrayList<>();
            long micros = CommitRecord.toPgMicros(Instant.parse("2026-11-25T10:00:00Z"));
            for (int i = 0; i < 20_000; i++) {
                micros += switch (rnd.nextInt(100)) {
                    case 0 -> 3_600_000_000L;
                    case 1, 2, 3, 4, 5, 6, 7, 8, 9 -> 0;
                    default -> rnd.nextInt(5_000);
                };
                long jitter = rnd.nextInt(10) == 0 ? -rnd.nextInt(50_000) : 0;
                commits.add(new CommitRecord(SEG.plus(100L * i + 10), micros + jitter));
            }
            byte[] wal = bytes(100 * 20_000, 3);
            s.wal().append(List.of(new WalAppend(tl, SEG, wal, List.of(), commits, List.of(), SEG.plus(wal.length))));

            assertTrue(s.changes().lastCommitBefore(tl, SEG.plus(10)).isEmpty(), "a commit starting at the point is after it");
            assertEquals(commits.get(0), s.changes().lastCommitBefore(tl, SEG.plus(11)).orElseThrow());
            assertEquals(commits.get(19_999), s.changes().lastCommitBefore(tl, SEG.plus(wal.length)).orElseThrow());
            for (int n = 0; n < 2_000; n++) {
                Lsn end = SEG.plus(rnd.nextInt(wal.length + 1));
                CommitRecord expected = commits.stream().filter(c -> c.recordLsn().isBefore(end))
                        .reduce((a, b) -> b).orElse(null);
                assertEquals(java.util.Optional.ofNullable(expected), s.changes().lastCommitBefore(tl, end), "before " + end);
            }

            // a branch at commit 500's end: its own commits after, its parent's below the branch point
            Lsn branchPoint = SEG.plus(100L * 500 + 20);
            TimelineId child = s.timelines().create(tl, branchPoint, 1).id();
            CommitRecord own = new CommitRecord(branchPoint.plus(50), micros + 10_000_000L);
            s.wal().append(List.of(new WalAppend(child, branchPoint, bytes(100, 4), List.of(), List.of(own), List.of(),
                    branchPoint.plus(100))));
            assertEquals(own, s.changes().lastCommitBefore(child, branchPoint.plus(100)).orElseThrow());
            assertEquals(commits.get(500), s.changes().lastCommitBefore(child, branchPoint.plus(50)).orElseThrow(),
                    "below its own first commit a branch's last commit is its parent's, not one after the branch point");
        }
    }

    @Test
    void largeAppendsAreChunkedAndReadBackExactly() {
        try (Store s = Store.open(tmp.resolve("store"))) {
            TimelineId tl = s.timelines().create(null, Lsn.INVALID, 1).id();
            byte[] big = bytes(3 * WalLog.MAX_WAL_CHUNK + 12345, 9);
            s.wal().append(List.of(WalAppend.raw(tl, SEG, big)));
            int from = WalLog.MAX_WAL_CHUNK - 10;
            assertArrayEquals(Arrays.copyOfRange(big, from, from + 2 * WalLog.MAX_WAL_CHUNK),
                    s.wal().read(tl, SEG.plus(from), 2 * WalLog.MAX_WAL_CHUNK));
            assertEquals(4, s.stats().entries("wal_chunks"));
        }
    }

    @Test
    void branchesReadTheirParentBelowTheBranchPoint() {
        try (Store s = Store.open(tmp.resolve("store"))) {
            TimelineId root = s.timelines().create(null, Lsn.INVALID, 1).id();
            byte[] parentWal = bytes(4000, 3);
            s.wal().append(List.of(new WalAppend(root, SEG, parentWal, List.of(new BlockChange(REL, 1, SEG.plus(500)),
                    new BlockChange(REL, 2, SEG.plus(3500))), List.of(), List.of(), SEG.plus(4000))));
            s.pages().put(root, REL, 1, SEG.plus(500), page(1));
            s.pages().put(root, REL, 1, SEG.plus(3500), page(2));
            Lsn branch = SEG.plus(2000);
            TimelineId child = s.timelines().create(root, branch, 1).id();
            assertThrows(StoreException.class, () -> s.timelines().create(root, SEG.plus(4001), 1));

            assertEquals(branch, s.wal().end(child).orElseThrow());
            assertThrows(WalGapException.class, () -> s.wal().append(List.of(WalAppend.raw(child, SEG.plus(4000), page(0)))));
            byte[] childWal = bytes(1000, 4);
            s.wal().append(List.of(new WalAppend(child, branch, childWal, List.of(new BlockChange(REL, 3, branch.plus(10))),
                    List.of(), List.of(), branch.plus(1000))));
            s.pages().putAll(List.of(new PageWrite(child, REL, 1, branch.plus(10), page(3)),
                    new PageWrite(child, REL, 2, branch.plus(20), page(4))));

            // WAL: parent's bytes below the branch point, the child's own after it, in one read
            byte[] expected = concat(Arrays.copyOfRange(parentWal, 1500, 2000), Arrays.copyOfRange(childWal, 0, 100));
            assertArrayEquals(expected, s.wal().read(child, SEG.plus(1500), 600));
            assertEquals(SEG, s.wal().start(child).orElseThrow());
            // the parent's change after the branch point is not the child's history
            assertEquals(Set.of(new BlockRef(REL, 1), new BlockRef(REL, 3)), Set.copyOf(s.changes().changedBlocks(child, SEG, branch.plus(1000))));

            PageVersion v = s.pages().get(child, REL, 1, branch).orElseThrow();
            assertEquals(root, v.timeline());
            assertArrayEquals(page(1), v.page());
            assertArrayEquals(page(3), s.pages().get(child, REL, 1, branch.plus(10)).orElseThrow().page());
            assertArrayEquals(page(2), s.pages().get(root, REL, 1, SEG.plus(4000)).orElseThrow().page());
            assertTrue(s.pages().get(child, REL, 1, SEG.plus(499)).isEmpty());
            assertArrayEquals(page(4), s.pages().get(child, REL, 2, branch.plus(20)).orElseThrow().page());
            assertTrue(s.pages().get(root, REL, 2, SEG.plus(4000)).isEmpty(), "a branch's pages are not its parent's");
        }
    }

    private static byte[] page(int fill) {
        byte[] p = new byte[WalGeometry.BLCKSZ];
        Arrays.fill(p, 24, 200, (byte) fill);
        return p;
    }

    private static byte[] bytes(int n, long seed) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }

    private static byte[] concat(byte[] a, byte[] b) {
        byte[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
