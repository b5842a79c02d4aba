package dev.zenith.server.redo;

import dev.zenith.storage.image.DataDirectoryLayout;
import dev.zenith.storage.page.PageLayout;
import dev.zenith.storage.wal.BlockRef;
import dev.zenith.wal.ForkNumber;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.RelTag;
import dev.zenith.wal.segment.WalGeometry;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Predicate;

/**
 * The exactness oracle's judgement: pages from a redo run against a reference data directory at
 * the same LSN, block by block over every main, visibility-map and init fork (free-space maps are
 * skipped; unlogged relations count by their init fork, as base backups do). A page is byte-equal,
 * or equal after {@link BufMask} (counted apart, with where), or a difference; blocks only one side
 * has are differences too. Sums over every comparison made with it.
 */
final class PageComparison {
    long byteEqual;
    long maskedEqual;
    long forks;
    long stampedByRecords;
    final List<String> masked = new ArrayList<>();
    final List<String> problems = new ArrayList<>();

    /** The forks compared in a data directory, with their length in blocks. */
    static Map<RelTag, Long> comparedForks(Path dataDir) throws IOException {
        Map<RelTag, Long> out = new TreeMap<>(RelTag.ORDER);
        for (Map.Entry<RelTag, List<Path>> e : DataDirectoryLayout.scan(dataDir).forks().entrySet()) {
            if (e.getKey().fork() == ForkNumber.FSM) {
                continue;
            }
            long bytes = 0;
            for (Path segment : e.getValue()) {
                bytes += Files.size(segment);
            }
            out.put(e.getKey(), bytes / WalGeometry.BLCKSZ);
        }
        return out;
    }

    /** The forks whose lengths differ between the reference and what {@code name} says, in words. */
    static String difference(Map<RelTag, Long> expected, Map<RelTag, Long> actual, String name) {
        StringBuilder sb = new StringBuilder();
        java.util.Set<RelTag> all = new java.util.TreeSet<>(RelTag.ORDER);
        all.addAll(expected.keySet());
        all.addAll(actual.keySet());
        for (RelTag r : all) {
            if (!java.util.Objects.equals(expected.get(r), actual.get(r))) {
                sb.append(r.path()).append(": reference ").append(expected.get(r)).append(", ").append(name).append(' ')
                        .append(actual.get(r)).append("; ");
            }
        }
        return sb.toString();
    }

    /**
     * @param where     the LSN (and what it is), for messages
     * @param reference the reference data directory
     * @param result    the run's pages
     * @param present   the wanted blocks the run handed out as present
     */
    void compare(String where, Path reference, PageSource result, Set<BlockRef> present) throws IOException {
        compare(where, reference, result, present, null, null, rel -> true);
    }

    /**
     * Only the forks {@code forksCompared} accepts (the run wanted exactly their blocks).
     * Also checks every page's pd_lsn: one of {@code stampedLsns} (the MAXALIGNed record ends replay
     * stamps), or at or below {@code imageLsn} (pages as the image had them).
     */
    void compare(String where, Path reference, PageSource result, Set<BlockRef> present,
                 Set<Lsn> stampedLsns, Lsn imageLsn, Predicate<RelTag> forksCompared) throws IOException {
        Map<RelTag, Long> expected = comparedForks(reference);
        expected.keySet().removeIf(forksCompared.negate());
        long seen = 0;
        try (ForkFiles referencePages = new ForkFiles(reference)) {
            for (Map.Entry<RelTag, Long> fork : expected.entrySet()) {
                forks++;
                RelTag rel = fork.getKey();
                for (long b = 0; b < fork.getValue(); b++) {
                    BlockRef ref = new BlockRef(rel, (int) b);
                    byte[] want = referencePages.read(rel, b);
                    byte[] got = present.contains(ref) ? result.page(ref) : null;
                    if (got == null) {
                        problem(where + ": " + rel.path() + " block " + b + " is in the reference, the run says it does not exist");
                        continue;
                    }
                    seen++;
                    if (stampedLsns != null && !PageLayout.isNew(got)) {
                        Lsn lsn = PageLayout.pageLsn(got);
                        if (stampedLsns.contains(lsn)) {
                            stampedByRecords++;
                        } else if (lsn.isAfter(imageLsn)) {
                            problem(where + ": " + rel.path() + " block " + b + " has pd_lsn " + lsn
                                    + ", which is no record's aligned end");
                        }
                    }
                    if (java.util.Arrays.equals(want, got)) {
                        byteEqual++;
                    } else if (java.util.Arrays.equals(BufMask.mask(want, rel.fork(), b), BufMask.mask(got, rel.fork(), b))) {
                        maskedEqual++;
                        if (masked.size() < 20) {
                            masked.add(where + ": " + rel.path() + " block " + b);
                        }
                    } else {
                        problem(where + ": " + rel.path() + " block " + b + " differs (reference pd_lsn "
                                + PageLayout.pageLsn(want) + ", run's " + PageLayout.pageLsn(got) + ")");
                    }
                }
            }
        }
        if (seen != present.size()) {
            for (BlockRef b : present) {
                Long n = expected.get(b.rel());
                if (n == null || Integer.toUnsignedLong(b.block()) >= n) {
                    problem(where + ": the run has " + b.rel().path() + " block " + Integer.toUnsignedLong(b.block())
                            + ", which the reference does not");
                }
            }
        }
    }

    void problem(String text) {
        if (problems.size() < 50) {
            problems.add(text);
        } else if (problems.size() == 50) {
            problems.add("...");
        }
    }

    @Override
    public String toString() {
        return forks + " forks compared (" + stampedByRecords + " pages stamped by a replayed record): " + byteEqual + " pages byte-equal, " + maskedEqual
                + " equal after bufmask masking" + (masked.isEmpty() ? "" : " " + masked) + ", " + problems.size()
                + " problems";
    }
}
