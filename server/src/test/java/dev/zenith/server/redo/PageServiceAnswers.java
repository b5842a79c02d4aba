package dev.zenith.server.redo;

import dev.zenith.pgexec.FileTrees;
import dev.zenith.server.testing.DaemonFixture;
import dev.zenith.server.testing.RawPageClient;
import dev.zenith.storage.Store;
import dev.zenith.storage.image.DataDirectoryLayout;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.wal.ForkNumber;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.RelFileNode;
import dev.zenith.wal.RelTag;
import dev.zenith.wal.segment.WalGeometry;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What a daemon's page service answers at one LSN of a timeline (the relations listing, then each fork's existence
 * and size, every block but free-space maps' and the database's size), and the comparison of those answers with a
 * reference directory built by PostgreSQL's crash recovery at that LSN: pages byte-equal or equal after bufmask
 * masking, sizes, existence and free-space map lengths equal.
 */
final class PageServiceAnswers {
    private static final int DEFAULT_TABLESPACE = RelFileNode.DEFAULT_TABLESPACE;
    private static final int POSTGRES_DB = 5;

    private PageServiceAnswers() {
    }

    /** What the daemon answered at one LSN of a timeline. */
    record Answers(Lsn lsn, Map<RelTag, Long> listed, Map<RelTag, Long> nblocks, Map<RelTag, Boolean> exists,
                           Map<RelTag, byte[]> pages, long dbSize, List<String> errors) {
    }

    /**
     * Each set of answers against a reference directory recovered from the (stopped) daemon's store at its LSN:
     * pages byte-equal or equal after masking, sizes and free-space maps equal, at least {@code minPages} compared.
     */
    static void assertAnswersEqualCrashRecovery(DaemonFixture d, Path storePath, TimelineId timeline,
            List<Answers> answers, String what, int minPages) throws Exception {
        Map<Lsn, Path> references = new LinkedHashMap<>();
        try (Store store = Store.open(storePath)) {
            for (Answers a : answers) {
                references.put(a.lsn(), reference(d, store, timeline, a.lsn(), what));
            }
        }
        try {
            assertAnswersEqual(answers, references, what, minPages);
        } finally {
            for (Path data : references.values()) {
                FileTrees.delete(data.getParent());
            }
        }
    }

    /**
     * The full path's data directory at {@code lsn} of the timeline (image + all WAL, crash recovery), built from a
     * store no daemon holds, in a temporary directory the caller deletes (the returned directory's parent).
     */
    static Path reference(DaemonFixture d, Store store, TimelineId timeline, Lsn lsn, String what) throws Exception {
        Path into = DaemonFixture.reachableTempDir(what + "-reference-");
        return ReferenceDirectory.fromStore(d.pg, store, timeline, lsn, into);
    }

    /** Each set of answers against the reference directory at its LSN, as above. */
    static void assertAnswersEqual(List<Answers> answers, Map<Lsn, Path> references, String what, int minPages)
            throws Exception {
        Map<String, String> problems = new LinkedHashMap<>();
        PageComparison pages = new PageComparison();
        StringBuilder fsm = new StringBuilder();
        for (Answers a : answers) {
            compare(a, references.get(a.lsn()), pages, problems, fsm);
        }
        System.out.println(what + " pages: " + pages + " " + pages.problems.subList(0, Math.min(10, pages.problems.size()))
                + "; free-space maps: " + fsm + "; problems " + problems);
        assertEquals(Map.of(), problems);
        assertEquals(List.of(), pages.problems);
        assertTrue(pages.byteEqual + pages.maskedEqual > minPages, pages.toString());
    }

    /** Until the page index of the timeline reaches {@code lsn}: the sizes the answers are checked against are there. */
    static void awaitIndexed(DaemonFixture d, TimelineId tl, Lsn lsn) throws Exception {
        long deadline = System.nanoTime() + 120_000_000_000L;
        while (true) {
            for (Object o : (JsonArray) d.ok(200, "GET", "/storages/local/timelines", null)) {
                JsonObject t = (JsonObject) o;
                if (t.getString("timeline_id").equals(tl.toString()) && t.getString("index_lsn") != null
                        && !Lsn.parse(t.getString("index_lsn")).isBefore(lsn)) {
                    return;
                }
            }
            assertTrue(System.nanoTime() < deadline, "the page index did not reach " + lsn + " in 2 minutes");
            Thread.sleep(200);
        }
    }

    /** The relations listing at {@code x}, then each listed fork's existence and size and every block (FSM pages aside). */
    static Answers ask(DaemonFixture d, String pgName, String password, String tenant, TimelineId tl, Lsn x)
            throws Exception {
        JsonObject listing = (JsonObject) d.ok(200, "GET", "/pgs/" + pgName + "/relations?lsn=" + x, null);
        Map<RelTag, Long> listed = new TreeMap<>(RelTag.ORDER);
        for (Object o : listing.getJsonArray("relations")) {
            JsonObject r = (JsonObject) o;
            listed.put(new RelTag(new RelFileNode((int) (long) r.getLong("spc"), (int) (long) r.getLong("db"),
                    (int) (long) r.getLong("rel")), ForkNumber.of(r.getInteger("fork"))), r.getLong("nblocks"));
        }
        listed.forEach((rel, n) -> {
            if (n > 20_000) {
                System.out.println("listed at " + x + ": " + rel.path() + " " + n + " blocks");
            }
        });
        Map<RelTag, Long> nblocks = new TreeMap<>(RelTag.ORDER);
        Map<RelTag, Boolean> exists = new TreeMap<>(RelTag.ORDER);
        Map<RelTag, byte[]> pages = new TreeMap<>(RelTag.ORDER);
        List<String> errors = new ArrayList<>();
        long dbSize;
        long at = x.value();
        try (RawPageClient c = RawPageClient.login(d.pgPort, "zenith", password)) {
            c.openStream("v3", tenant, tl.toString());
            long reqid = 0;
            for (Map.Entry<RelTag, Long> f : listed.entrySet()) {
                RelTag rel = f.getKey();
                c.sendCopy(RawPageClient.v3(0, reqid++, at, at, 13).putInt(rel.node().spcOid()).putInt(rel.node().dbOid())
                        .putInt(rel.node().relNode()).put((byte) rel.fork().id()).array());
                c.sendCopy(RawPageClient.v3(1, reqid++, at, at, 13).putInt(rel.node().spcOid()).putInt(rel.node().dbOid())
                        .putInt(rel.node().relNode()).put((byte) rel.fork().id()).array());
                ByteBuffer e = c.copyData();
                ByteBuffer n = c.copyData();
                if ((e.get(0) & 0xFF) != 100 || (n.get(0) & 0xFF) != 101) {
                    errors.add(rel.path() + ": " + (e.get(0) & 0xFF) + "/" + (n.get(0) & 0xFF));
                    continue;
                }
                exists.put(rel, e.get(38) == 1);
                long blocks = Integer.toUnsignedLong(n.getInt(38));
                if (blocks > 20_000) {
                    errors.add(rel.path() + ": nblocks " + blocks);
                    continue;
                }
                nblocks.put(rel, blocks);
                if (rel.fork() == ForkNumber.FSM) {
                    continue;
                }
                byte[] all = new byte[(int) blocks * WalGeometry.BLCKSZ];
                long firstId = reqid;
                for (int b = 0; b < blocks; b++) {
                    c.sendCopy(RawPageClient.getPageV3(reqid++, at, at, rel.node().spcOid(), rel.node().dbOid(),
                            rel.node().relNode(), rel.fork().id(), b));
                }
                for (int b = 0; b < blocks; b++) {
                    ByteBuffer p = c.copyData();
                    if ((p.get(0) & 0xFF) != 102) {
                        p.position(25);
                        errors.add(rel.path() + " block " + b + " (reqid " + (firstId + b) + "): " + RawPageClient.cstring(p));
                        continue;
                    }
                    System.arraycopy(p.array(), 42, all, b * WalGeometry.BLCKSZ, WalGeometry.BLCKSZ);
                }
                pages.put(rel, all);
            }
            c.sendCopy(RawPageClient.v3(3, reqid, at, at, 4).putInt(POSTGRES_DB).array());
            dbSize = RawPageClient.v3Answer(c.copyData(), 104, reqid).getLong(29);
        }
        return new Answers(x, listed, nblocks, exists, pages, dbSize, errors);
    }

    static void compare(Answers a, Path ref, PageComparison pages, Map<String, String> problems, StringBuilder fsm)
            throws Exception {
        String at = a.lsn().toString();
        a.errors().sort(java.util.Comparator.comparing(e -> e.contains("_fsm"))); // pages' and sizes' errors first
        if (!a.errors().isEmpty()) {
            problems.put(at + " errors", a.errors().size() + ", the first: " + a.errors().subList(0, Math.min(5, a.errors().size())));
        }
        Map<RelTag, Long> all = new TreeMap<>(RelTag.ORDER);
        for (Map.Entry<RelTag, List<Path>> e : DataDirectoryLayout.scan(ref).forks().entrySet()) {
            long bytes = 0;
            for (Path segment : e.getValue()) {
                bytes += Files.size(segment);
            }
            all.put(e.getKey(), bytes / WalGeometry.BLCKSZ);
        }
        Map<RelTag, Long> expected = new TreeMap<>(RelTag.ORDER);
        Map<RelTag, Long> expectedFsm = new TreeMap<>(RelTag.ORDER);
        all.forEach((rel, n) -> (rel.fork() == ForkNumber.FSM ? expectedFsm : expected).put(rel, n));
        Map<RelTag, Long> listedFsm = new TreeMap<>(RelTag.ORDER);
        a.listed().forEach((rel, n) -> {
            if (rel.fork() == ForkNumber.FSM) {
                listedFsm.put(rel, n);
            }
        });
        if (!all.equals(a.listed())) {
            problems.put(at + " relations listing", PageComparison.difference(all, a.listed(), "listing"));
        }
        for (Map.Entry<RelTag, Long> f : all.entrySet()) {
            RelTag rel = f.getKey();
            if (!Boolean.TRUE.equals(a.exists().get(rel)) || !f.getValue().equals(a.nblocks().get(rel))) {
                problems.put(at + " " + rel.path(), "reference " + f.getValue() + " blocks; exists " + a.exists().get(rel)
                        + ", nblocks " + a.nblocks().get(rel));
            }
        }
        long dbBytes = all.entrySet().stream().filter(e -> e.getKey().node().spcOid() == DEFAULT_TABLESPACE
                && e.getKey().node().dbOid() == POSTGRES_DB).mapToLong(e -> e.getValue() * WalGeometry.BLCKSZ).sum();
        if (a.dbSize() != dbBytes) {
            problems.put(at + " dbsize", "reference " + dbBytes + " (free-space maps "
                    + (dbBytes - dbBytesOf(expected)) + "), answered " + a.dbSize());
        }
        int fsmEqual = 0;
        List<String> fsmDiffer = new ArrayList<>();
        for (RelTag rel : union(expectedFsm, listedFsm)) {
            Long want = expectedFsm.get(rel);
            Long got = a.nblocks().get(rel);
            if (java.util.Objects.equals(want, got) && Boolean.TRUE.equals(a.exists().get(rel))) {
                fsmEqual++;
            } else {
                fsmDiffer.add(rel.path() + " " + want + "/" + got);
            }
        }
        if (!fsmDiffer.isEmpty()) {
            problems.put(at + " free-space maps", fsmDiffer.size() + " differ (reference/answer): " + fsmDiffer);
        }
        fsm.append(at).append(": ").append(fsmEqual).append(" equal, ").append(fsmDiffer.size()).append(" differ ")
                .append(fsmDiffer.subList(0, Math.min(10, fsmDiffer.size()))).append("; ");
        PageSource answered = b -> {
            byte[] fork = a.pages().get(b.rel());
            long block = Integer.toUnsignedLong(b.block());
            return fork == null || (block + 1) * WalGeometry.BLCKSZ > fork.length ? null
                    : Arrays.copyOfRange(fork, (int) block * WalGeometry.BLCKSZ, (int) (block + 1) * WalGeometry.BLCKSZ);
        };
        java.util.Set<dev.zenith.storage.wal.BlockRef> present = new java.util.HashSet<>();
        a.pages().forEach((rel, bytes) -> {
            for (int b = 0; b < bytes.length / WalGeometry.BLCKSZ; b++) {
                present.add(new dev.zenith.storage.wal.BlockRef(rel, b));
            }
        });
        pages.compare(at, ref, answered, present);
    }

    private static long dbBytesOf(Map<RelTag, Long> forks) {
        return forks.entrySet().stream().filter(e -> e.getKey().node().spcOid() == DEFAULT_TABLESPACE
                && e.getKey().node().dbOid() == POSTGRES_DB).mapToLong(e -> e.getValue() * WalGeometry.BLCKSZ).sum();
    }

    private static java.util.Set<RelTag> union(Map<RelTag, Long> a, Map<RelTag, Long> b) {
        java.util.Set<RelTag> out = new java.util.TreeSet<>(RelTag.ORDER);
        out.addAll(a.keySet());
        out.addAll(b.keySet());
        return out;
    }
}
