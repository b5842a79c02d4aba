package dev.zenith.server.redo;

import dev.zenith.pgexec.FileTrees;
import dev.zenith.server.anchor.AnchorCapture;
import dev.zenith.server.testing.DaemonFixture;
import dev.zenith.server.testing.RawPageClient;
import dev.zenith.storage.page.PageLayout;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.RelTag;
import dev.zenith.wal.bytes.LittleEndian;
import dev.zenith.wal.record.BlockReference;
import dev.zenith.wal.record.DecodedRecord;
import dev.zenith.wal.rmgr.RecordDescriber;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The dense oracle: a primary of the daemon runs with wal_consistency_checking = all, so every
 * record carries, for each block it touches, an image of the page as the primary had it right
 * after the change (not applied by redo: only for checking). For EVERY such record of a workload
 * (pgbench, inserts with B-tree splits, COPY's multi-inserts, HOT and non-HOT updates, row locks,
 * deletes, VACUUM with pruning, index vacuum, visibility-map bits and truncation, VACUUM FREEZE,
 * a sequence, CREATE INDEX, TRUNCATE, and a checkpoint in the middle so background materialization
 * runs too), GetPage through the daemon's page service at that record's end answers each of those
 * pages equal to the image once both are masked as PostgreSQL's own check masks them ({@link BufMask}),
 * and with a pd_lsn no newer than the record's (aligned) end. What masking had to hide is counted per
 * part of the page: always pd_lsn (the image is taken before the record stamps its LSN; redo stamps it),
 * and hint bits, command ids, pd_prune_xid and free space where the primary's page had them.
 */
@Tag("pg")
@Tag("slow")
class DenseConsistencyOracleTest {
    private static final int GET_PAGE_RESPONSE = 102;

    @Test
    void getPageAtEveryRecordsEndEqualsItsConsistencyImages() throws Exception {
        try (DaemonFixture d = new DaemonFixture()) {
            GetPageByRedoTest.Primary p = GetPageByRedoTest.Primary.start(d, false);
            try {
                int port = p.port();
                d.psql(port, "ALTER SYSTEM SET wal_consistency_checking = 'all'");
                d.psql(port, "SELECT pg_reload_conf()");
                Lsn from = Lsn.parse(d.psql(port, "SELECT pg_current_wal_insert_lsn()"));
                workload(d, port);
                Lsn to = GetPageByRedoTest.flushLsn(d, port);

                List<DecodedRecord> checked = new ArrayList<>();
                Map<String, Integer> skipped = new TreeMap<>();
                for (DecodedRecord r : WalFiles.records(p.pgdata().resolve("pg_wal"), 1,
                        AnchorCapture.ofStoppedDirectory(p.image()).redoLsn())) {
                    if (r.startLsn().compareTo(from) < 0 || r.endLsn().compareTo(to) > 0) {
                        continue;
                    }
                    if (!checkImages(r).isEmpty()) {
                        checked.add(r);
                    } else if (!r.blocks().isEmpty()) {
                        skipped.merge(kind(r), 1, Integer::sum);
                    }
                }
                assertTrue(checked.size() > 200, checked.size() + " records with consistency images");

                String tenant = ((JsonObject) d.ok(200, "GET", "/storages/local", null)).getString("tenant_id");
                Tally tally = new Tally();
                long started = System.nanoTime();
                try (RawPageClient c = RawPageClient.login(d.pgPort, "zenith", "redo-secret")) {
                    c.openStream("v3", tenant, p.timeline());
                    long reqid = 0;
                    for (int first = 0; first < checked.size(); first += 16) {
                        List<DecodedRecord> batch = checked.subList(first, Math.min(checked.size(), first + 16));
                        long sent = reqid;
                        for (DecodedRecord r : batch) {
                            for (BlockReference b : checkImages(r)) {
                                long lsn = r.endLsn().value();
                                c.sendCopy(RawPageClient.getPageV3(sent++, lsn, lsn, b.rel().node().spcOid(),
                                        b.rel().node().dbOid(), b.rel().node().relNode(), b.rel().fork().id(),
                                        (int) b.blockNumber()));
                            }
                        }
                        for (DecodedRecord r : batch) {
                            for (BlockReference b : checkImages(r)) {
                                ByteBuffer answer = RawPageClient.v3Answer(c.copyData(), GET_PAGE_RESPONSE, reqid++);
                                byte[] got = Arrays.copyOfRange(answer.array(), 42, answer.array().length);
                                tally.compare(r, b, got);
                            }
                        }
                    }
                }
                System.out.println("dense oracle: GetPage at the end of each of " + checked.size() + " records in "
                        + (System.nanoTime() - started) / 1_000_000 + " ms: " + tally
                        + "; records with blocks but no consistency image (full-page images redo applies): " + skipped);
                assertEquals(List.of(), tally.problems);
                assertTrue(tally.kinds.size() >= 15, "record kinds: " + tally.kinds);
                for (String kind : List.of("Heap INSERT", "Heap HOT_UPDATE", "Heap UPDATE", "Heap DELETE", "Heap LOCK",
                        "Heap2 MULTI_INSERT", "Heap2 PRUNE", "Heap2 VACUUM", "Heap2 VISIBLE", "Heap2 FREEZE_PAGE",
                        "Btree INSERT_LEAF", "Btree SPLIT", "Btree VACUUM", "Sequence")) {
                    assertTrue(tally.kinds.keySet().stream().anyMatch(k -> k.startsWith(kind)),
                            "no " + kind + " record was checked: " + tally.kinds.keySet());
                }
                tally.provesItCanFail();
            } finally {
                FileTrees.delete(p.work());
            }
        }
    }

    /** Each statement in its own psql call (ALTER SYSTEM and VACUUM refuse a transaction block). */
    private static void workload(DaemonFixture d, int port) throws IOException {
        d.pgbench(port, "-n", "-c", "2", "-j", "1", "-t", "8");
        for (String sql : List.of(
                "CREATE TABLE dense (id int PRIMARY KEY, k text, v int) WITH (fillfactor = 60)",
                "CREATE INDEX dense_k ON dense (k)",
                // keys of ~900 bytes: a B-tree leaf holds 8, so 40 rows split it several times
                "INSERT INTO dense SELECT i, repeat('k', 900) || i, i FROM generate_series(1, 40) i",
                "CREATE TABLE copied (a int, b text)",
                "COPY copied (a) FROM PROGRAM 'seq 1 600'",
                "UPDATE dense SET v = v + 1 WHERE id % 10 = 0",
                "UPDATE dense SET k = k || 'x' WHERE id % 25 = 0",
                "SELECT count(*) FROM (SELECT * FROM dense WHERE id < 5 FOR UPDATE) locked",
                "CHECKPOINT",
                "DELETE FROM dense WHERE id > 32",
                "DELETE FROM copied WHERE a % 50 = 0",
                "VACUUM dense",
                "VACUUM (FREEZE) copied",
                "CREATE SEQUENCE dense_seq",
                "SELECT count(nextval('dense_seq')) FROM generate_series(1, 40)",
                "CREATE INDEX copied_a ON copied (a)",
                "TRUNCATE copied",
                "INSERT INTO copied VALUES (1, 'after truncate')")) {
            d.psql(port, sql);
        }
    }

    private static String kind(DecodedRecord r) {
        String id = RecordDescriber.identify(r);
        return id == null ? r.rmgrName() : r.rmgrName() + " " + id;
    }

    /** The blocks a record carries an image of that redo does not apply (wal_consistency_checking's). */
    private static List<BlockReference> checkImages(DecodedRecord r) {
        return r.blocks().stream().filter(b -> b.hasImage() && !b.applyImage()).toList();
    }

    /** Pages compared, how many byte-equal, which parts masking hid (per page), per record kind. */
    private static final class Tally {
        long pages;
        long byteEqual;
        final Map<BufMask.Part, Integer> partsMasked = new TreeMap<>();
        long maskedByOverlappingParts;
        long differ;
        long stampedByTheRecord;
        final Map<String, Integer> kinds = new TreeMap<>();
        final Map<String, Integer> forks = new TreeMap<>();
        final List<String> problems = new ArrayList<>();
        byte[] heapImage;
        byte[] heapAnswer;
        BlockReference heapBlock;

        void compare(DecodedRecord r, BlockReference b, byte[] got) {
            pages++;
            kinds.merge(kind(r), 1, Integer::sum);
            forks.merge(b.rel().fork().name(), 1, Integer::sum);
            byte[] image = b.restorePage();
            Lsn stamped = PageLayout.pageLsn(got);
            if (stamped.equals(r.alignedEndLsn())) {
                stampedByTheRecord++;
            } else if (stamped.isAfter(r.alignedEndLsn())) {
                differ++;
                problems.add("after " + kind(r) + " ending at " + r.endLsn() + ": " + b.rel().path() + " block "
                        + b.blockNumber() + " answered with pd_lsn " + stamped + ", from after the record");
                return;
            }
            Set<BufMask.Part> masked = BufMask.partsMasked(image, got, b.rel().fork(), b.blockNumber());
            if (masked == null) {
                differ++;
                if (problems.size() < 30) {
                    problems.add("after " + kind(r) + " ending at "
                            + r.endLsn() + ": " + b.rel().path() + " block " + b.blockNumber()
                            + " differs from its image (image pd_lsn " + PageLayout.pageLsn(image) + ", answer's "
                            + PageLayout.pageLsn(got) + ")");
                }
                return;
            }
            if (Arrays.equals(image, got)) {
                byteEqual++;
            } else if (masked.isEmpty()) {
                maskedByOverlappingParts++;
            } else {
                for (BufMask.Part part : masked) {
                    partsMasked.merge(part, 1, Integer::sum);
                }
            }
            if (heapImage == null && b.rel().fork() == dev.zenith.wal.ForkNumber.MAIN && firstTupleEnd(got) > 0
                    && r.rmgrName().equals("Heap")) {
                heapImage = image;
                heapAnswer = got;
                heapBlock = b;
            }
        }

        /**
         * The comparison catches a wrong page: the last byte of the first tuple's data (no mask
         * covers it) changed in an answer that matched is reported as a difference.
         */
        void provesItCanFail() {
            assertNotNull(heapAnswer, "no heap page with a tuple was compared");
            byte[] wrong = heapAnswer.clone();
            int at = firstTupleEnd(wrong) - 1;
            wrong[at] ^= 0x5A;
            assertNotNull(BufMask.partsMasked(heapImage, heapAnswer, heapBlock.rel().fork(), heapBlock.blockNumber()));
            assertNull(BufMask.partsMasked(heapImage, wrong, heapBlock.rel().fork(), heapBlock.blockNumber()),
                    "a changed tuple byte was masked away");
        }

        /** The end of the first normal tuple of a heap page (0 if none). */
        private static int firstTupleEnd(byte[] page) {
            if (PageLayout.isNew(page) || LittleEndian.u16(page, 16) != page.length
                    || LittleEndian.u16(page, 12) <= 24) {
                return 0;
            }
            long lp = LittleEndian.u32(page, 24);
            int off = (int) (lp & 0x7FFF);
            int flags = (int) ((lp >>> 15) & 0x3);
            int len = (int) ((lp >>> 17) & 0x7FFF);
            return flags == 1 && len > 23 && off + len <= page.length ? off + len : 0;
        }

        @Override
        public String toString() {
            return pages + " pages (" + forks + "; " + stampedByTheRecord + " with pd_lsn = the record's aligned end, the"
                    + " others older) after " + kinds.size() + " kinds of record " + kinds + ": "
                    + byteEqual + " byte-equal, " + (pages - byteEqual - differ)
                    + " equal after masking, by the part masking had to hide (a page may count under several) "
                    + partsMasked + (maskedByOverlappingParts > 0 ? ", " + maskedByOverlappingParts
                    + " only by two parts at once" : "") + ", " + differ + " differ";
        }
    }
}
