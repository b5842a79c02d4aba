package dev.zenith.storage.image;

import dev.zenith.storage.Store;
import dev.zenith.storage.failure.StoreCorruptException;
import dev.zenith.storage.lmdb.Keys;
import dev.zenith.storage.lmdb.StoredBytes;
import dev.zenith.storage.page.PageChecksum;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.testkit.PgCluster;
import dev.zenith.wal.ForkNumber;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.RelTag;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.lmdbjava.ByteArrayProxy;
import org.lmdbjava.Cursor;
import org.lmdbjava.Dbi;
import org.lmdbjava.Env;
import org.lmdbjava.Txn;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A byte flipped in LMDB's data file, as a disk flips one: whatever holds it (WAL, a page version, an
 * image file, a manifest) is refused with an error naming the table and what the key stands for, never
 * served. A page whose stored value is intact but which fails PostgreSQL's data checksum is refused
 * too. A store of the format before checksums gets them when it opens.
 */
@Tag("pg")
class StoredValueIntegrityTest {
    private static PgCluster cluster;
    private static Path template;
    private static TimelineId tl;
    private static SourceWal.Checkpoint ck;
    private static RelTag table;

    @TempDir
    Path tmp;

    @BeforeAll
    static void storeOfARealCluster() throws IOException {
        cluster = PgCluster.initdb();
        cluster.start();
        cluster.psql("create table t as select g, md5(g::text) as v from generate_series(1, 20000) g");
        int relNode = Integer.parseInt(cluster.psql("select pg_relation_filenode('t')"));
        int db = Integer.parseInt(cluster.psql("select oid from pg_database where datname = 'postgres'"));
        table = RelTag.of(1663, db, relNode, ForkNumber.MAIN);
        cluster.stop();
        ck = SourceWal.lastCheckpoint(cluster);
        template = Files.createTempDirectory("zenith-integrity-");
        try (Store store = Store.open(template.resolve("store"))) {
            tl = store.timelines().create(null, Lsn.INVALID, 1).id();
            store.wal().append(List.of(SourceWal.append(cluster, tl, SourceWal.segmentStart(ck.redo()), ck.redo(), ck.end())));
            store.images().importDataDirectory(tl, cluster.dataDir(), ck.lsn(), ck.redo(), RelationFilter.all());
        }
    }

    @AfterAll
    static void cleanUp() throws IOException {
        cluster.close();
        PgCluster.deleteTree(template);
    }

    /** A copy of the template store (closed: LMDB's files are consistent). */
    private Path copy() throws IOException {
        Path dir = tmp.resolve("store");
        Files.createDirectories(dir);
        Files.copy(template.resolve("store/data.mdb"), dir.resolve("data.mdb"));
        return dir;
    }

    private static String assertDamaged(Runnable read, String... named) {
        StoreCorruptException e = assertThrows(StoreCorruptException.class, read::run);
        for (String n : named) {
            assertTrue(e.getMessage().contains(n), "'" + n + "' in: " + e.getMessage());
        }
        return e.getMessage();
    }

    @Test
    void aFlippedByteInStoredWalIsRefusedNamingTheChunk() throws IOException {
        Path dir = copy();
        Lsn start = SourceWal.segmentStart(ck.redo());
        StoredBytes.flipInValue(dir, StoredBytes.value(dir, "wal_chunks", Keys.timelineLsn(tl, start)));
        try (Store store = Store.open(dir)) {
            assertDamaged(() -> store.wal().read(tl, start, (int) ck.end().minus(start)),
                    "wal_chunks entry of timeline " + tl + " at " + start, dir.toString());
            assertDamaged(() -> {
                try {
                    store.pgWal().writeSegments(tl, ck.redo(), ck.end(), Files.createDirectories(tmp.resolve("pg_wal")));
                } catch (IOException e) {
                    throw new AssertionError(e);
                }
            }, "wal_chunks entry");
        }
    }

    @Test
    void walStoredWrongIsRefusedBeforePostgresqlWouldReplayIt() throws IOException {
        Path dir = copy();
        Lsn start = SourceWal.segmentStart(ck.redo());
        Lsn chunk = start.plus(ck.redo().minus(start) / (1 << 20) * (1 << 20)); // the append's 1 MiB chunks
        // inside the record at the redo point, its own checksum intact
        StoredBytes.rewrite(dir, "wal_chunks", Keys.timelineLsn(tl, chunk), wal -> wal[(int) ck.redo().minus(chunk) + 30] ^= 1);
        try (Store store = Store.open(dir)) {
            assertDamaged(() -> {
                try {
                    store.pgWal().writeSegments(tl, ck.redo(), ck.end(), Files.createDirectories(tmp.resolve("pg_wal")));
                } catch (IOException e) {
                    throw new AssertionError(e);
                }
            }, "timeline " + tl + ": the stored WAL holds an invalid record at " + ck.redo(), "before " + ck.end());
        }
    }

    @Test
    void aFlippedByteInAStoredPageIsRefusedByMaterializeAndBlockReads() throws IOException {
        Path dir = copy();
        byte[] key = StoredBytes.firstKey(dir, "pages", java.util.Arrays.copyOf(Keys.page(tl, table, 1, Lsn.INVALID), Keys.BLOCK_PREFIX), 100);
        Lsn version = Keys.lsnAt(key, Keys.BLOCK_PREFIX);
        StoredBytes.flipInValue(dir, StoredBytes.value(dir, "pages", key));
        String named = table.path() + " block 1, version at " + version;
        try (Store store = Store.open(dir)) {
            assertDamaged(() -> materialize(store, tmp.resolve("m")), "pages entry of timeline " + tl, named);
            assertDamaged(() -> store.pages().readBlocks(tl, table, ck.lsn(), 0, 4, true, new byte[4 * 8192], 0), named);
            assertDamaged(() -> store.pages().get(tl, table, 1, ck.lsn()), named);
        }
    }

    @Test
    void aFlippedByteInAnImageFileOrManifestIsRefused() throws IOException {
        Path dir = copy();
        ImageManifest image;
        try (Store store = Store.open(dir)) {
            image = store.images().latestImageAtOrBefore(tl, ck.lsn()).orElseThrow();
        }
        FileEntry conf = image.files().stream().filter(f -> f.path().equals("postgresql.conf")).findFirst().orElseThrow();
        StoredBytes.flipInValue(dir, StoredBytes.value(dir, "blobs", java.util.HexFormat.of().parseHex(conf.sha256())));
        try (Store store = Store.open(dir)) {
            assertDamaged(() -> materialize(store, tmp.resolve("m")), "file postgresql.conf of the image at " + ck.lsn(),
                    "blobs entry of file content with sha-256 " + conf.sha256());
            assertDamaged(() -> store.images().imageFile(image, "postgresql.conf"), "file postgresql.conf");
        }
        StoredBytes.flipInValue(dir, StoredBytes.value(dir, "images", Keys.timelineLsn(tl, ck.lsn())));
        try (Store store = Store.open(dir)) {
            assertDamaged(() -> store.images().latestImageAtOrBefore(tl, ck.lsn()), "images entry of timeline " + tl + ", image at " + ck.lsn());
        }
    }

    @Test
    void aStoredPageThatFailsItsDataChecksumIsRefused() throws IOException {
        Path dir = copy();
        try (Store store = Store.open(dir)) {
            byte[] page = store.pages().get(tl, table, 2, ck.lsn()).orElseThrow().page();
            assertEquals(PageChecksum.compute(page, 2), dev.zenith.storage.page.PageLayout.checksum(page));
            page[5000] ^= 1; // as if stored wrong in the first place: its own checksum is intact
            store.pages().put(tl, table, 2, ck.lsn(), page);
            assertDamaged(() -> materialize(store, tmp.resolve("m")),
                    "stored page " + table.path() + " block 2 (the version at " + ck.lsn() + " of timeline " + tl + ")",
                    "checksum mismatch");
            assertDamaged(() -> store.pages().readBlocks(tl, table, ck.lsn(), 0, 4, true, new byte[4 * 8192], 0), "block 2");
        }
    }

    @Test
    void aStoreWithoutChecksumsGetsThemWhenItOpens() throws IOException {
        Path dir = copy();
        Path before = tmp.resolve("before");
        try (Store store = Store.open(dir)) {
            materialize(store, before);
        }
        // What the previous format stored: the values alone.
        try (Env<byte[]> env = Env.create(ByteArrayProxy.PROXY_BA).setMapSize(1L << 32).setMaxDbs(64).open(dir.toFile())) {
            List<byte[]> names = env.getDbiNames();
            List<Dbi<byte[]>> dbis = names.stream().map(n -> env.openDbi(n)).toList();
            try (Txn<byte[]> txn = env.txnWrite()) {
                for (int i = 0; i < names.size(); i++) {
                    byte[] name = names.get(i);
                    Dbi<byte[]> dbi = dbis.get(i);
                    if (new String(name, StandardCharsets.UTF_8).equals("info")) {
                        dbi.put(txn, "format".getBytes(StandardCharsets.UTF_8), "zenith-store/2".getBytes(StandardCharsets.UTF_8));
                        continue;
                    }
                    try (Cursor<byte[]> c = dbi.openCursor(txn)) {
                        for (boolean ok = c.first(); ok; ok = c.next()) {
                            byte[] v = c.val();
                            c.put(c.key(), java.util.Arrays.copyOf(v, v.length - 4), org.lmdbjava.PutFlags.MDB_CURRENT);
                        }
                    }
                }
                txn.commit();
            }
        }
        Path after = tmp.resolve("after");
        try (Store store = Store.open(dir)) {
            materialize(store, after);
            assertArrayEquals(SourceWal.read(cluster.walDir(), ck.redo(), (int) ck.end().minus(ck.redo())),
                    store.wal().read(tl, ck.redo(), (int) ck.end().minus(ck.redo())));
        }
        assertTrue(DirectoryTrees.assertSameContent(before, after, p -> false) > 900);
        try (Store store = Store.open(dir)) {
            assertFalse(store.timelines().all().isEmpty(), "and it opens as a store of the new format");
        }
    }

    private static void materialize(Store store, Path target) {
        try {
            store.images().materialize(tl, ck.lsn(), target);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
