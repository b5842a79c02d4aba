package dev.zenith.server.pageservice;

import dev.zenith.server.testing.DaemonFixture;
import dev.zenith.server.testing.RawPageClient;
import dev.zenith.wal.Lsn;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The page service over the daemon's pg port, spoken byte by byte by {@link RawPageClient}, against a
 * pgbench database whose compute stopped cleanly: its own files are the reference for every page,
 * size and existence answer.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Tag("pg")
class PageServiceTest {
    static final int DEFAULT_TABLESPACE = 1663;
    static final int GLOBAL_TABLESPACE = 1664;
    static final int POSTGRES_DB = 5;

    DaemonFixture d;
    String tenant;
    String timeline;
    Path pgdata;
    /** The end of the last WAL record; the pg's last_lsn is its stored WAL's end, a little after. */
    Lsn end;
    Lsn lastLsn;

    @BeforeAll
    void startDaemonWithAStoppedPgbenchDatabase() throws Exception {
        d = new DaemonFixture();
        d.pgSettings.put("replication_password", "page-secret");
        d.startInProcess();
        JsonObject pg = d.createPg("main");
        d.pgbench(pg.getInteger("port"), "-i", "-s", "1", "-q");
        d.action("main", "stop");
        pg = d.pg("main");
        timeline = pg.getString("timeline_id");
        pgdata = Path.of(pg.getString("pgdata"));
        tenant = ((JsonObject) d.ok(200, "GET", "/storages/local", null)).getString("tenant_id");
        end = Lsn.parse(timelineOf().getString("end_lsn"));
        lastLsn = Lsn.parse(pg.getString("last_lsn"));
        assertTrue(tenant.matches("[0-9a-f]{32}"), tenant);
    }

    @AfterAll
    void stopDaemon() throws Exception {
        d.close();
    }

    RawPageClient stream(String version) throws IOException {
        RawPageClient c = RawPageClient.login(d.pgPort, "zenith", "page-secret");
        c.openStream(version, tenant, timeline);
        return c;
    }

    /** Every relation fork file of a directory (base/5 or global): relfilenode and fork to its segment files. */
    static Map<List<Integer>, List<Path>> forks(Path dir) throws IOException {
        Pattern name = Pattern.compile("(\\d+)(_fsm|_vm|_init)?(\\.\\d+)?");
        Map<List<Integer>, List<Path>> out = new LinkedHashMap<>();
        try (Stream<Path> files = Files.list(dir)) {
            for (Path f : files.sorted().toList()) {
                Matcher m = name.matcher(f.getFileName().toString());
                if (!m.matches()) {
                    continue;
                }
                int fork = m.group(2) == null ? 0 : switch (m.group(2)) {
                    case "_fsm" -> 1;
                    case "_vm" -> 2;
                    default -> 3;
                };
                out.computeIfAbsent(List.of(Integer.parseInt(m.group(1)), fork), k -> new ArrayList<>()).add(f);
            }
        }
        out.values().forEach(l -> l.sort((a, b) -> Integer.compare(segment(a), segment(b))));
        return out;
    }

    static int segment(Path p) {
        String n = p.getFileName().toString();
        int dot = n.indexOf('.');
        return dot < 0 ? 0 : Integer.parseInt(n.substring(dot + 1));
    }

    static byte[] fileBytes(List<Path> segments) throws IOException {
        java.io.ByteArrayOutputStream all = new java.io.ByteArrayOutputStream();
        for (Path p : segments) {
            all.write(Files.readAllBytes(p));
        }
        return all.toByteArray();
    }

    @Test
    void everyBlockSizeAndExistenceEqualTheStoppedComputesFiles() throws Exception {
        try (RawPageClient c = stream("v3")) {
            long reqid = 0;
            long dbBytes = 0;
            int pages = 0;
            for (int[] dir : new int[][] {{DEFAULT_TABLESPACE, POSTGRES_DB}, {GLOBAL_TABLESPACE, 0}}) {
                Path path = dir[1] == 0 ? pgdata.resolve("global") : pgdata.resolve("base/" + dir[1]);
                Map<List<Integer>, List<Path>> forks = forks(path);
                assertTrue(forks.size() > 50, "a cluster's catalogs: " + forks.size());
                for (Map.Entry<List<Integer>, List<Path>> f : forks.entrySet()) {
                    int rel = f.getKey().get(0);
                    int fork = f.getKey().get(1);
                    byte[] expected = fileBytes(f.getValue());
                    int blocks = expected.length / 8192;
                    if (dir[1] != 0) {
                        dbBytes += expected.length;
                    }
                    // Exists, Nblocks, then every block, all sent before any answer is read.
                    long first = reqid;
                    c.sendCopy(RawPageClient.v3(0, reqid++, RawPageClient.LATEST, 0, 13)
                            .putInt(dir[0]).putInt(dir[1]).putInt(rel).put((byte) fork).array());
                    c.sendCopy(RawPageClient.v3(1, reqid++, RawPageClient.LATEST, 0, 13)
                            .putInt(dir[0]).putInt(dir[1]).putInt(rel).put((byte) fork).array());
                    for (int b = 0; b < blocks; b++) {
                        c.sendCopy(RawPageClient.getPageV3(reqid++, RawPageClient.LATEST, 0, dir[0], dir[1], rel, fork, b));
                    }
                    String what = path.getFileName() + "/" + rel + " fork " + fork;
                    assertEquals(1, RawPageClient.v3Answer(c.copyData(), 100, first).get(38), what + " exists");
                    assertEquals(blocks, RawPageClient.v3Answer(c.copyData(), 101, first + 1).getInt(38), what + " nblocks");
                    for (int b = 0; b < blocks; b++) {
                        ByteBuffer page = RawPageClient.v3Answer(c.copyData(), 102, first + 2 + b);
                        assertEquals(b, page.getInt(38), "echoed blkno");
                        byte[] got = Arrays.copyOfRange(page.array(), 42, page.array().length);
                        assertEquals(8192, got.length);
                        assertArrayEquals(Arrays.copyOfRange(expected, b * 8192, (b + 1) * 8192), got, what + " block " + b);
                        pages++;
                    }
                }
            }
            assertTrue(pages > 1500, "pages compared: " + pages);
            c.sendCopy(RawPageClient.v3(3, 7, RawPageClient.LATEST, 0, 4).putInt(POSTGRES_DB).array());
            assertEquals(dbBytes, RawPageClient.v3Answer(c.copyData(), 104, 7).getLong(29), "db size");
            // A commit log segment, whole.
            c.sendCopy(RawPageClient.v3(4, 8, RawPageClient.LATEST, 0, 5).put((byte) 0).putInt(0).array());
            ByteBuffer slru = RawPageClient.v3Answer(c.copyData(), 105, 8);
            assertEquals(0, slru.get(25));
            assertEquals(0, slru.getInt(26));
            byte[] clog = Files.readAllBytes(pgdata.resolve("pg_xact/0000"));
            assertEquals(clog.length / 8192, slru.getInt(30));
            assertArrayEquals(clog, Arrays.copyOfRange(slru.array(), 34, slru.array().length));
        }
    }

    @Test
    void version2AnswersAreTagAndPayload() throws Exception {
        byte[] expected = Files.readAllBytes(pgdata.resolve("base/5/1259")); // pg_class
        try (RawPageClient c = stream("v2")) {
            long at = lastLsn.value(); // the pg's own idea of its end: answered at the last record's end
            c.sendCopy(RawPageClient.v2(2, at, at, 17).putInt(DEFAULT_TABLESPACE).putInt(POSTGRES_DB).putInt(1259).put((byte) 0).putInt(1).array());
            c.sendCopy(RawPageClient.v2(1, at, at, 13).putInt(DEFAULT_TABLESPACE).putInt(POSTGRES_DB).putInt(1259).put((byte) 0).array());
            c.sendCopy(RawPageClient.v2(0, at, at, 13).putInt(DEFAULT_TABLESPACE).putInt(POSTGRES_DB).putInt(999999).put((byte) 0).array());
            c.sendCopy(RawPageClient.v2(3, RawPageClient.LATEST, at, 4).putInt(POSTGRES_DB).array());
            ByteBuffer page = c.copyData();
            assertEquals(1 + 8192, page.remaining());
            assertEquals(102, page.get() & 0xFF);
            assertArrayEquals(Arrays.copyOfRange(expected, 8192, 16384), Arrays.copyOfRange(page.array(), 1, 8193));
            ByteBuffer nblocks = c.copyData();
            assertEquals(5, nblocks.remaining());
            assertEquals(101, nblocks.get() & 0xFF);
            assertEquals(expected.length / 8192, nblocks.getInt());
            ByteBuffer exists = c.copyData();
            assertArrayEquals(new byte[] {100, 0}, Arrays.copyOf(exists.array(), exists.remaining()));
            ByteBuffer size = c.copyData();
            assertEquals(104, size.get() & 0xFF);
            assertTrue(size.getLong() > 10_000_000, "pgbench scale 1 is over 10 MB");
            // CopyDone ends the stream: CopyDone, CommandComplete, ReadyForQuery; the connection stays.
            c.send('c', new byte[0]);
            assertEquals('c', c.read().type());
            assertEquals("PAGESTREAM_V2\0", c.read().text());
            assertEquals('Z', c.read().type());
            c.openStream("v3", tenant, timeline);
            c.sendCopy(RawPageClient.v3(1, 5, RawPageClient.LATEST, 0, 13).putInt(DEFAULT_TABLESPACE).putInt(POSTGRES_DB).putInt(1259).put((byte) 0).array());
            assertEquals(expected.length / 8192, RawPageClient.v3Answer(c.copyData(), 101, 5).getInt(38));
        }
    }

    /** Sends one v3 Nblocks of pg_class and returns the error text of its answer (or fails if it is not one). */
    static String errorOf(RawPageClient c, long reqid, long lsn, long nms, int rel, int fork) throws IOException {
        c.sendCopy(RawPageClient.v3(1, reqid, lsn, nms, 13).putInt(DEFAULT_TABLESPACE).putInt(POSTGRES_DB).putInt(rel)
                .put((byte) fork).array());
        ByteBuffer b = RawPageClient.v3Answer(c.copyData(), 103, reqid);
        return RawPageClient.cstring(b);
    }

    @Test
    void badLsnsAndMissingThingsAreErrorAnswersAndTheStreamGoesOn() throws Exception {
        JsonObject tl = timelineOf();
        Lsn horizon = Lsn.parse(tl.getString("retention_horizon"));
        try (RawPageClient c = stream("v3")) {
            assertEquals("invalid LSN(0) in request", errorOf(c, 1, 0, 0, 1259, 0));
            assertEquals("invalid request with request LSN 0/1000 and not_modified_since 0/2000", errorOf(c, 2, 0x1000, 0x2000, 1259, 0));
            assertTrue(errorOf(c, 3, 0x100, 0x100, 1259, 0).contains("is before the retention horizon " + horizon), "horizon");
            String beyond = errorOf(c, 4, RawPageClient.LATEST, end.value() + (64 << 20), 1259, 0);
            assertTrue(beyond.contains("is beyond the end of WAL") && beyond.contains("no running compute writes to it"), beyond);
            assertTrue(errorOf(c, 5, RawPageClient.LATEST, RawPageClient.LATEST, 1259, 0).contains("beyond any WAL"));
            // In retention, between the images: the page as redo makes it (GetPageByRedoTest holds such pages
            // against PostgreSQL's own recovery), stamped at or before that LSN; sizes from the page index
            // (PageIndexOracleTest holds them against PostgreSQL's files).
            long middle = horizon.value() + (end.value() - horizon.value()) / 2;
            c.sendCopy(RawPageClient.getPageV3(6, middle, middle, DEFAULT_TABLESPACE, POSTGRES_DB, 1259, 0, 0));
            ByteBuffer between = RawPageClient.v3Answer(c.copyData(), 102, 6);
            assertEquals(42 + 8192, between.array().length);
            ByteBuffer header = ByteBuffer.wrap(between.array(), 42, 8).order(java.nio.ByteOrder.LITTLE_ENDIAN);
            long pdLsn = ((header.getInt() & 0xFFFFFFFFL) << 32) | (header.getInt() & 0xFFFFFFFFL);
            assertTrue(pdLsn > 0 && pdLsn <= ((middle + 7) & ~7L), "pd_lsn " + Lsn.of(pdLsn) + " at " + Lsn.of(middle));
            c.sendCopy(RawPageClient.v3(1, 16, middle, middle, 13).putInt(DEFAULT_TABLESPACE).putInt(POSTGRES_DB)
                    .putInt(1259).put((byte) 0).array());
            assertTrue(RawPageClient.v3Answer(c.copyData(), 101, 16).getInt(38) > 0, "pg_class's size between the images");
            // Between the images too, a relation that does not exist is an error (as Neon answers), not zeros;
            // an absent visibility map and a block beyond a fork's end are zeros.
            c.sendCopy(RawPageClient.getPageV3(17, middle, middle, DEFAULT_TABLESPACE, POSTGRES_DB, 999999, 0, 0));
            assertEquals("relation base/5/999999 does not exist at " + Lsn.of(middle),
                    RawPageClient.cstring(RawPageClient.v3Answer(c.copyData(), 103, 17)));
            for (int[] ask : new int[][] {{18, 999999, 2, 0}, {19, 1259, 0, 1_000_000}}) {
                c.sendCopy(RawPageClient.getPageV3(ask[0], middle, middle, DEFAULT_TABLESPACE, POSTGRES_DB, ask[1], ask[2], ask[3]));
                ByteBuffer zeros = RawPageClient.v3Answer(c.copyData(), 102, ask[0]);
                assertArrayEquals(new byte[8192], Arrays.copyOfRange(zeros.array(), 42, zeros.array().length));
            }
            assertEquals("relation base/5/999999 does not exist at " + end, errorOf(c, 7, RawPageClient.LATEST, 0, 999999, 0));
            assertEquals("invalid fork number 9", errorOf(c, 8, RawPageClient.LATEST, 0, 1259, 9));
            // A GetPage of a missing relation, an invalid SLRU kind, an SLRU segment that does not exist.
            c.sendCopy(RawPageClient.getPageV3(9, RawPageClient.LATEST, 0, DEFAULT_TABLESPACE, POSTGRES_DB, 999999, 0, 0));
            assertTrue(RawPageClient.cstring(RawPageClient.v3Answer(c.copyData(), 103, 9)).contains("does not exist"));
            c.sendCopy(RawPageClient.v3(4, 10, RawPageClient.LATEST, 0, 5).put((byte) 7).putInt(0).array());
            assertTrue(RawPageClient.cstring(RawPageClient.v3Answer(c.copyData(), 103, 10)).startsWith("invalid SLRU kind 7"));
            c.sendCopy(RawPageClient.v3(4, 11, RawPageClient.LATEST, 0, 5).put((byte) 0).putInt(0x777).array());
            assertEquals("SLRU segment pg_xact/0777 does not exist at " + end,
                    RawPageClient.cstring(RawPageClient.v3Answer(c.copyData(), 103, 11)));
            c.sendCopy(RawPageClient.v3(3, 12, RawPageClient.LATEST, 0, 4).putInt(424242).array());
            assertEquals("database 424242 does not exist at " + end, RawPageClient.cstring(RawPageClient.v3Answer(c.copyData(), 103, 12)));
            // Absent FSM and VM forks have no blocks (as Neon says); a block beyond the end is zeros.
            c.sendCopy(RawPageClient.v3(1, 13, RawPageClient.LATEST, 0, 13).putInt(DEFAULT_TABLESPACE).putInt(POSTGRES_DB)
                    .putInt(999999).put((byte) 1).array());
            assertEquals(0, RawPageClient.v3Answer(c.copyData(), 101, 13).getInt(38));
            c.sendCopy(RawPageClient.getPageV3(14, RawPageClient.LATEST, 0, DEFAULT_TABLESPACE, POSTGRES_DB, 1259, 0, 1_000_000));
            ByteBuffer zero = RawPageClient.v3Answer(c.copyData(), 102, 14);
            assertArrayEquals(new byte[8192], Arrays.copyOfRange(zero.array(), 42, zero.array().length));
            // Still serving on this connection.
            c.sendCopy(RawPageClient.v3(0, 15, RawPageClient.LATEST, 0, 13).putInt(DEFAULT_TABLESPACE).putInt(POSTGRES_DB)
                    .putInt(1259).put((byte) 0).array());
            assertEquals(1, RawPageClient.v3Answer(c.copyData(), 100, 15).get(38));
        }
    }

    JsonObject timelineOf() throws Exception {
        for (Object o : (io.vertx.core.json.JsonArray) d.ok(200, "GET", "/storages/local/timelines", null)) {
            JsonObject t = (JsonObject) o;
            if (t.getString("timeline_id").equals(timeline)) {
                return t;
            }
        }
        throw new AssertionError("timeline " + timeline + " not listed");
    }

    @Test
    void unknownTenantsTimelinesAndSqlAreRefusedAtTheQuery() throws Exception {
        try (RawPageClient c = RawPageClient.login(d.pgPort, "zenith", "page-secret")) {
            String other = "00000000000000000000000000000000";
            c.query("pagestream_v3 " + other + " " + timeline);
            RawPageClient.Msg m = c.read();
            assertEquals('E', m.type());
            assertEquals("ERROR", m.field('S'));
            assertTrue(m.errorMessage().startsWith("tenant " + other + " not found"), m.errorMessage());
            assertEquals('Z', c.read().type());
            c.query("pagestream_v3 " + tenant + " " + other);
            m = c.read();
            assertTrue(m.errorMessage().startsWith("timeline " + other + " not found in tenant " + tenant), m.errorMessage());
            assertEquals('Z', c.read().type());
            c.query("SELECT 1");
            m = c.read();
            assertEquals("0A000", m.field('C'));
            assertEquals('Z', c.read().type());
            c.query("pagestream_v3 " + tenant);
            assertEquals("42601", c.read().field('C'));
            assertEquals('Z', c.read().type());
            c.openStream("v3", tenant, timeline); // the same connection is still good
        }
        // psql (libpq) on a normal connection: logged in, and SQL refused with the reason.
        ProcessBuilder pb = new ProcessBuilder(d.pg.bin("psql").toString(), "-X", "-h", "127.0.0.1", "-p",
                Integer.toString(d.pgPort), "-U", "zenith", "-d", "postgres", "-c", "SELECT 1").redirectErrorStream(true);
        pb.environment().put("PGPASSWORD", "page-secret");
        Process psql = pb.start();
        String said = new String(psql.getInputStream().readAllBytes());
        assertNotEquals(0, psql.waitFor());
        assertTrue(said.contains("serves pagestream_v3 and pagestream_v2 only, not SQL"), said);
    }

    @Test
    void badBytesEndOnlyTheirConnection() throws Exception {
        // An unknown request tag: FATAL, then the server closes.
        try (RawPageClient c = stream("v3")) {
            c.sendCopy(RawPageClient.v3(9, 1, RawPageClient.LATEST, 0, 13).putInt(1).putInt(2).putInt(3).put((byte) 0).array());
            RawPageClient.Msg m = c.read();
            assertEquals("FATAL", m.field('S'));
            assertTrue(m.errorMessage().startsWith("invalid pagestream request tag 9"), m.errorMessage());
            assertTrue(c.closedByServer());
        }
        // A truncated request, answered after the good one before it.
        try (RawPageClient c = stream("v3")) {
            c.sendCopy(RawPageClient.v3(3, 1, RawPageClient.LATEST, 0, 4).putInt(POSTGRES_DB).array());
            c.sendCopy(Arrays.copyOf(RawPageClient.getPageV3(2, RawPageClient.LATEST, 0, 1663, 5, 1259, 0, 0), 30));
            RawPageClient.v3Answer(c.copyData(), 104, 1);
            RawPageClient.Msg m = c.read();
            assertEquals("malformed pagestream GetPage request: truncated dbnode (need 4 bytes, have 1)", m.errorMessage());
            assertTrue(c.closedByServer());
        }
        // A CopyData claiming a gigabyte: refused from its length word.
        try (RawPageClient c = stream("v3")) {
            c.out.write(new byte[] {'d', 0x40, 0, 0, 0, 2});
            c.out.flush();
            RawPageClient.Msg m = c.read();
            assertTrue(m.errorMessage().startsWith("invalid length 1073741824 for message type 'd'"), m.errorMessage());
            assertTrue(c.closedByServer());
        }
        // Half a request, then the client goes away; garbage instead of a start-up packet.
        try (RawPageClient c = stream("v3")) {
            c.out.write(RawPageClient.frame('d', RawPageClient.getPageV3(1, RawPageClient.LATEST, 0, 1663, 5, 1259, 0, 0)), 0, 20);
            c.out.flush();
        }
        try (RawPageClient c = new RawPageClient(d.pgPort)) {
            c.out.write("GET / HTTP/1.1\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            c.out.flush();
            assertEquals("FATAL", c.read().field('S'));
        }
        // Others are served throughout.
        try (RawPageClient c = stream("v3")) {
            c.sendCopy(RawPageClient.v3(1, 3, RawPageClient.LATEST, 0, 13).putInt(1663).putInt(5).putInt(1259).put((byte) 0).array());
            RawPageClient.v3Answer(c.copyData(), 101, 3);
        }
    }

    @Test
    void fiveHundredIdleStreamsDoNotStopAnotherClient() throws Exception {
        List<RawPageClient> idle = new ArrayList<>();
        byte[] pgClass = Files.readAllBytes(pgdata.resolve("base/5/1259"));
        try {
            for (int i = 0; i < 500; i++) {
                idle.add(stream(i % 2 == 0 ? "v3" : "v2"));
            }
            try (RawPageClient c = stream("v3")) {
                int blocks = pgClass.length / 8192;
                for (int round = 0; round < 20; round++) {
                    int b = round % blocks;
                    c.sendCopy(RawPageClient.getPageV3(round, RawPageClient.LATEST, 0, 1663, 5, 1259, 0, b));
                    ByteBuffer page = RawPageClient.v3Answer(c.copyData(), 102, round);
                    assertArrayEquals(Arrays.copyOfRange(pgClass, b * 8192, (b + 1) * 8192), Arrays.copyOfRange(page.array(), 42, 42 + 8192));
                }
            }
            // The idle ones are alive too.
            for (int i : new int[] {0, 249, 499}) {
                RawPageClient c = idle.get(i);
                if (i % 2 == 0) {
                    c.sendCopy(RawPageClient.v3(1, 1, RawPageClient.LATEST, 0, 13).putInt(1663).putInt(5).putInt(1259).put((byte) 0).array());
                    assertEquals(pgClass.length / 8192, RawPageClient.v3Answer(c.copyData(), 101, 1).getInt(38));
                } else {
                    c.sendCopy(RawPageClient.v2(1, RawPageClient.LATEST, 0, 13).putInt(1663).putInt(5).putInt(1259).put((byte) 0).array());
                    ByteBuffer b = c.copyData();
                    assertEquals(101, b.get() & 0xFF);
                    assertEquals(pgClass.length / 8192, b.getInt());
                }
            }
        } finally {
            for (RawPageClient c : idle) {
                c.close();
            }
        }
    }

    record Cli(int code, String out, String err) {
    }

    Cli pagebench(String... args) {
        System.setProperty("zenith.home", d.home.toString());
        try {
            java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
            java.io.ByteArrayOutputStream err = new java.io.ByteArrayOutputStream();
            List<String> argv = new ArrayList<>(List.of("pagebench", "main", "--password", "page-secret"));
            argv.addAll(List.of(args));
            int code = new dev.zenith.cli.Main(new java.io.PrintStream(out, true), new java.io.PrintStream(err, true)).run(argv);
            return new Cli(code, out.toString(), err.toString());
        } finally {
            System.clearProperty("zenith.home");
        }
    }

    @Test
    void pagebenchServesEveryPageExactlyAndComparesWithAnEchoPeer() throws Exception {
        Cli run = pagebench("-c", "2", "-d", "4", "--duration", "2s", "--warmup", "0s", "--verify", pgdata.toString(), "--json");
        assertEquals(0, run.code(), run.out() + run.err());
        JsonObject r = new JsonObject(run.out());
        JsonObject pages = r.getJsonObject("pages");
        assertTrue(pages.getLong("requests") > 100, run.out());
        assertEquals(0, pages.getLong("errors"), run.out());
        assertEquals(0, pages.getLong("mismatches"), run.out());
        for (String k : List.of("mean", "p50", "p90", "p99", "p99_9", "p99_99")) {
            assertTrue(pages.getJsonObject("latency_us").getDouble(k) > 0, k);
        }
        assertTrue(r.getJsonObject("echo").getLong("requests") > 100);
        assertTrue(r.getDouble("p50_ratio_to_echo") > 0);
        assertTrue(run.err().contains("answers/s"), "a line per second: " + run.err());
        // v2 at a fixed LSN (the end of WAL), verified, in text.
        run = pagebench("--protocol", "v2", "--lsn", end.toString(), "--duration", "1s", "--warmup", "0s", "--no-echo",
                "--verify", pgdata.toString());
        assertEquals(0, run.code(), run.out() + run.err());
        assertTrue(run.out().contains(" 0 errors, 0 mismatches"), run.out());
        // A reference that is not this database: --verify notices, and the exit code says so.
        Path empty = Files.createTempDirectory("pagebench-empty");
        try {
            run = pagebench("--duration", "1s", "--warmup", "0s", "--no-echo", "--verify", empty.toString());
            assertEquals(1, run.code(), run.out() + run.err());
            assertTrue(run.out().contains("differs from the reference directory"), run.out());
        } finally {
            Files.delete(empty);
        }
        // Random LSNs in retention: between the images GetPage answers by sparse redo from the image before
        // (page versions by redo: redo.RedoPageSource; their exactness is GetPageByRedoTest's).
        run = pagebench("--lsn", "random", "--duration", "1s", "--warmup", "0s", "--no-echo", "--json");
        JsonObject random = new JsonObject(run.out()).getJsonObject("pages");
        assertEquals(0, random.getLong("errors"), run.out());
        assertTrue(random.getLong("requests") > 0, run.out());
    }

    @Test
    void aClientThatDoesNotReadIsHeldBackNotBuffered() throws Exception {
        // 70 MB of requests: more than the socket buffers of both ends hold (the client's receive buffer
        // is small; the kernel grows the daemon's receive buffer up to tcp_rmem's maximum, 32 MB here).
        int requests = 1_500_000;
        try (RawPageClient c = RawPageClient.login(new RawPageClient(d.pgPort, 32 * 1024), "zenith", "page-secret")) {
            c.openStream("v3", tenant, timeline);
            c.socket.setSendBufferSize(64 * 1024);
            long[] written = {0};
            Thread writer = new Thread(() -> {
                try {
                    java.io.BufferedOutputStream out = new java.io.BufferedOutputStream(c.out, 64 * 1024);
                    for (int i = 0; i < requests; i++) {
                        // LSN 0: answered from the header alone, so the server is quick and only the reader is slow.
                        out.write(RawPageClient.frame('d', RawPageClient.v3(0, i, 0, 0, 13).putInt(1663).putInt(5).putInt(1259)
                                .put((byte) 0).array()));
                        written[0] = i + 1;
                    }
                    out.flush();
                } catch (IOException e) {
                    // the test fails on the count below
                }
            }, "page-flood");
            writer.start();
            writer.join(TimeUnit.SECONDS.toMillis(8));
            assertTrue(writer.isAlive(), "the server kept reading a client that reads nothing: all " + written[0]
                    + " requests went in (their answers are buffered in the daemon)");
            long stalledAt = written[0];
            assertTrue(stalledAt < requests, "stalled at " + stalledAt);
            // Reading lets everything through, in order.
            for (int i = 0; i < requests; i++) {
                ByteBuffer b = c.copyData();
                assertEquals(103, b.get() & 0xFF);
                assertEquals(i, b.getLong(), "answers in request order");
            }
            writer.join(60_000);
            assertEquals(requests, written[0]);
        }
    }
}
