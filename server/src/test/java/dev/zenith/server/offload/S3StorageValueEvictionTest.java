package dev.zenith.server.offload;

import dev.zenith.objectstore.ObjectStore;
import dev.zenith.objectstore.format.Manifest;
import dev.zenith.objectstore.log.ManifestLog;
import dev.zenith.objectstore.s3.S3Location;
import dev.zenith.objectstore.s3.S3ObjectStore;
import dev.zenith.objectstore.s3.S3Settings;
import dev.zenith.server.testing.DaemonFixture;
import dev.zenith.server.testing.RawPageClient;
import dev.zenith.testkit.S3ProxyExtension;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Eviction of page versions and file contents: a database four times an s3 storage's cache bound stays
 * usable (GetPage, pg start, a branch at a snapshot, queries) with the store measured within the bound while
 * it is used, its cold pages read back from S3's segments; a segment with a flipped byte is an error naming
 * it, never a page.
 */
@Tag("s3")
@Tag("pg")
class S3StorageValueEvictionTest {
    static final long BOUND = 48L << 20;
    @RegisterExtension
    static final S3ProxyExtension proxy = new S3ProxyExtension("zen");

    @Test
    void aDatabaseFourTimesTheCacheIsServedFromS3WithinTheBound() throws Exception {
        try (DaemonFixture d = new DaemonFixture()) {
            d.offloadSettings.put("cache_bytes", BOUND);
            d.pgSettings.put("replication_password", "page-secret");
            d.startInProcess();
            S3TestStorages.attach(d, proxy.server(), "cloud", "evict");
            JsonObject pg = (JsonObject) d.ok(201, "PUT", "/pgs", new JsonObject().put("name", "main")
                    .put("storage_name", "cloud").encode());
            int port = pg.getInteger("port");
            // about 200 MiB of incompressible rows (hex text does not shrink under lz4), four to a page: the page
            // index (a block change per row written) is not evicted, and wide rows keep it small beside the pages
            d.psql(port, "CREATE TABLE big (id int, v text)");
            for (int i = 0; i < 4; i++) {
                d.psql(port, S3StorageCacheFullTest.insertRows(i * 27_000 + 1, (i + 1) * 27_000));
            }
            long dbSize = Long.parseLong(d.psql(port, "SELECT pg_database_size(current_database())"));
            assertTrue(dbSize >= 4 * BOUND, "the database is 4x the cache: " + dbSize);
            String expected = d.psql(port, "SELECT count(*), sum(hashtext(v)::numeric) FROM big");
            int db = Integer.parseInt(d.psql(port, "SELECT oid FROM pg_database WHERE datname = current_database()"));
            int rel = Integer.parseInt(d.psql(port, "SELECT pg_relation_filenode('big')"));
            d.ok(201, "PUT", "/snapshots", new JsonObject().put("name", "main@loaded").encode());
            d.action("main", "stop");
            pg = d.pg("main");
            Path pgdata = Path.of(pg.getString("pgdata"));
            String timeline = pg.getString("timeline_id");
            Map<Integer, byte[]> reference = referencePages(pgdata.resolve("base/" + db + "/" + rel), 40, 0);
            // their neighbours, never asked for by GetPage (values read back are written back while there is room)
            Map<Integer, byte[]> unread = referencePages(pgdata.resolve("base/" + db + "/" + rel), 40, 1);

            JsonObject within = d.awaitJson("/storages/cloud", j -> j.getJsonObject("offload").getLong("unuploaded_wal_bytes") == 0
                    && j.getJsonObject("offload").getLong("evicted_value_bytes") > 0
                    && j.getJsonObject("size").getLong("used_bytes") <= BOUND);
            System.out.println("database " + dbSize + " bytes, cache bound " + BOUND + ": " + within.getJsonObject("size")
                    + ", offload " + within.getJsonObject("offload"));

            long highest;
            S3TestStorages.UsedBytesSampler sampler = new S3TestStorages.UsedBytesSampler(d, "cloud");
            try {
                String tenant = within.getString("tenant_id");
                // GetPage of blocks now held only in S3's segments: the pages the pg wrote
                try (RawPageClient c = RawPageClient.login(d.pgPort, "zenith", "page-secret")) {
                    c.openStream("v3", tenant, timeline);
                    for (Map.Entry<Integer, byte[]> e : reference.entrySet()) {
                        c.sendCopy(RawPageClient.getPageV3(e.getKey(), RawPageClient.LATEST, 0, 1663, db, rel, 0, e.getKey()));
                        ByteBuffer page = RawPageClient.v3Answer(c.copyData(), 102, e.getKey());
                        assertArrayEquals(e.getValue(), Arrays.copyOfRange(page.array(), 42, 42 + 8192), "block " + e.getKey());
                    }
                }
                JsonObject offload = ((JsonObject) d.ok(200, "GET", "/storages/cloud", null)).getJsonObject("offload");
                assertTrue(offload.getLong("fetched_values") > 0, "GetPage read evicted pages back: " + offload);
                // the pg starts on a data directory built from the versions, most of them read back from S3
                d.action("main", "start");
                assertEquals(expected, d.psql(port, "SELECT count(*), sum(hashtext(v)::numeric) FROM big"));
                JsonObject branch = (JsonObject) d.ok(201, "PUT", "/pgs", new JsonObject().put("name", "then")
                        .put("snapshot", "main@loaded").encode());
                assertEquals(expected, d.psql(branch.getInteger("port"), "SELECT count(*), sum(hashtext(v)::numeric) FROM big"));
                d.psql(branch.getInteger("port"), "UPDATE big SET v = 'x' WHERE id % 1000 = 0");
            } finally {
                sampler.close();
                highest = sampler.highest();
            }
            System.out.println("highest used_bytes while served: " + highest + " (bound " + BOUND + ")");
            assertTrue(highest <= BOUND, "the store stayed within its bound while used: " + highest);

            // a flipped byte in every segment: a page read back from one is an error naming it (the daemon keeps
            // the six segments read last in memory; the blocks asked for are spread over many more, and were not
            // read back by GetPage before, so few if any were written back into the cache)
            d.action("main", "stop");
            d.action("then", "stop");
            List<Path> segments = segmentFiles("evict");
            assertTrue(segments.size() > 12, "segments: " + segments.size());
            for (Path f : segments) {
                try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
                    long at = raf.length() / 2;
                    raf.seek(at);
                    int b = raf.read();
                    raf.seek(at);
                    raf.write(b ^ 0x10);
                }
            }
            int errors = 0;
            try (RawPageClient c = RawPageClient.login(d.pgPort, "zenith", "page-secret")) {
                c.openStream("v3", within.getString("tenant_id"), timeline);
                for (Map.Entry<Integer, byte[]> e : unread.entrySet()) {
                    c.sendCopy(RawPageClient.getPageV3(e.getKey(), RawPageClient.LATEST, 0, 1663, db, rel, 0, e.getKey()));
                    ByteBuffer answer = c.copyData();
                    try {
                        ByteBuffer page = RawPageClient.v3Answer(answer, 102, e.getKey());
                        assertArrayEquals(e.getValue(), Arrays.copyOfRange(page.array(), 42, 42 + 8192), "block " + e.getKey());
                    } catch (IOException refused) {
                        assertTrue(refused.getMessage().contains("damaged") && refused.getMessage().contains("segment"),
                                refused.getMessage());
                        errors++;
                    }
                }
            }
            assertTrue(errors > 0, "pages of the damaged segments were refused");
        }
    }

    /** {@code count} blocks spread over the relation's first segment file, by block number. */
    static Map<Integer, byte[]> referencePages(Path relation, int count) throws IOException {
        return referencePages(relation, count, 0);
    }

    /** As {@link #referencePages(Path, int)}, each block {@code shift} further (the last one {@code shift} back). */
    static Map<Integer, byte[]> referencePages(Path relation, int count, int shift) throws IOException {
        byte[] all = Files.readAllBytes(relation);
        int blocks = all.length / 8192;
        Map<Integer, byte[]> out = new LinkedHashMap<>();
        for (int i = 0; i < count; i++) {
            int b = (int) ((long) i * (blocks - 1) / (count - 1));
            b = b + shift < blocks ? b + shift : b - shift;
            out.put(b, Arrays.copyOfRange(all, b * 8192, (b + 1) * 8192));
        }
        return out;
    }

    /** The files of the segment objects the prefix's newest manifest lists. */
    private static List<Path> segmentFiles(String prefix) throws Exception {
        S3Settings settings = S3Settings.of(S3Location.parse("s3://zen/" + prefix)).withEndpoint(proxy.server().endpoint())
                .withCredentials(proxy.server().accessKey(), proxy.server().secretKey());
        List<Path> out = new ArrayList<>();
        try (ObjectStore store = S3ObjectStore.open(settings)) {
            for (Manifest.Entry e : ManifestLog.read(store).entries()) {
                if (RemoteNames.SEGMENT.equals(e.labels().get(RemoteNames.KIND))) {
                    out.add(proxy.server().objectFile("zen", prefix + "/" + e.key()));
                }
            }
        }
        return out;
    }
}
