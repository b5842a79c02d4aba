package dev.zenith.server.importer;

import dev.zenith.server.testing.WalServiceTestBase;
import dev.zenith.testkit.PgCluster;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code snapshot import}: a vanilla PostgreSQL 15 cluster brought in through each kind of source (a base
 * backup by our replication client of the running server, under pgbench and quiet, with trust and with
 * SCRAM; its stopped data directory; pg_basebackup -Ft tars, plain, gzip and zstd; pg_dump plain and custom
 * output). Each imported snapshot is branched: its pg_dump equals the source's at that point and
 * pg_amcheck finds nothing. Bad sources and targets are refused naming why, and change nothing.
 */
@Tag("pg")
class SnapshotImportTest extends WalServiceTestBase {
    /** pgbench's TPC-B keeps these equal at every consistent point; history rows count the transactions. */
    private static final String PGBENCH_BALANCES = "SELECT (SELECT sum(abalance) FROM pgbench_accounts) || ' '"
            + " || (SELECT sum(tbalance) FROM pgbench_tellers) || ' ' || (SELECT sum(bbalance) FROM pgbench_branches)"
            + " || ' ' || (SELECT coalesce(sum(delta), 0) FROM pgbench_history)";

    @Test
    void aRunningClusterImportsByBaseBackupUnderPgbenchAndQuietWithScram() throws Exception {
        try (PgCluster source = PgCluster.initdb().allowReplication().start()) {
            source.pgbench("-i", "-s", "1", "-q");
            Process load = new ProcessBuilder(source.installation().command("pgbench", "-h", "127.0.0.1", "-p",
                    Integer.toString(source.port()), "-U", "postgres", "-c", "2", "-T", "600", "-n", "postgres"))
                    .redirectErrorStream(true).redirectOutput(work.resolve("pgbench.out").toFile()).start();
            JsonObject imported;
            try {
                Thread.sleep(1000);
                imported = importFrom("src@busy", "busy", "basebackup://postgres@127.0.0.1:" + source.port());
            } finally {
                load.destroy();
                load.waitFor();
            }
            assertEquals(true, imported.getBoolean("storage_created"));
            assertEquals(d.home.resolve("storages").resolve("busy").toString(), imported.getString("storage_path"));
            int port = branch("b1", "src@busy");
            String balances = d.psql(port, PGBENCH_BALANCES);
            String[] sums = balances.split(" ");
            assertTrue(Stream.of(sums).distinct().count() == 1, "a consistent pgbench state: " + balances);
            long transactions = Long.parseLong(d.psql(port, "SELECT count(*) FROM pgbench_history"));
            assertTrue(transactions > 0, "pgbench ran before the backup ended");
            // every transaction the import has, the source committed (the import is a point of its history)
            String rows = d.psql(port, "COPY (SELECT tid, bid, aid, delta, mtime FROM pgbench_history) TO STDOUT");
            Path check = source.scratch("check").resolve("check.sql");
            Files.writeString(check, "CREATE TEMP TABLE imported (tid int, bid int, aid int, delta int, mtime timestamp);\n"
                    + "COPY imported FROM STDIN;\n" + rows + "\n\\.\n"
                    + "SELECT count(*) FROM (SELECT * FROM imported EXCEPT ALL SELECT tid, bid, aid, delta, mtime FROM pgbench_history) x;\n");
            source.installation().handOver(check.getParent());
            assertEquals("0", source.exec("psql", "-X", "-At", "-q", "-h", "127.0.0.1", "-p", Integer.toString(source.port()),
                    "-U", "postgres", "-v", "ON_ERROR_STOP=1", "-f", check.toString(), "postgres").trim(),
                    "every imported pgbench transaction is one the source committed");
            d.amcheck(port, "--all", "--install-missing");

            // quiet now, and through SCRAM with the password from ~/.pgpass: the dump is the source's
            source.psql("CREATE ROLE importer REPLICATION LOGIN PASSWORD 'se:cret'");
            Files.writeString(source.dataDir().resolve("pg_hba.conf"), "local all all trust\n"
                    + "host all postgres 127.0.0.1/32 trust\nhost replication importer 127.0.0.1/32 scram-sha-256\n");
            source.exec("pg_ctl", "-D", source.dataDir().toString(), "reload");
            Path home = work.resolve("home");
            Files.createDirectories(home);
            Files.writeString(home.resolve(".pgpass"), "127.0.0.1:" + source.port() + ":replication:importer:se\\:cret\n");
            String userHome = System.getProperty("user.home");
            System.setProperty("user.home", home.toString());
            try {
                importFrom("src@quiet", "quiet", "basebackup://importer@127.0.0.1:" + source.port() + "/postgres");
            } finally {
                System.setProperty("user.home", userHome);
            }
            assertEquals(dumpOf(source), dumpOf(branch("b2", "src@quiet")));
        }
    }

    @Test
    void aStandbyImportsByBaseBackup() throws Exception {
        try (PgCluster primary = PgCluster.initdb().allowReplication().start()) {
            primary.pgbench("-i", "-s", "1", "-q");
            primary.pgbench("-c", "2", "-t", "100", "-n");
            Path standby = primary.scratch("sb").resolve("data"); // made by pg_basebackup: 0700, as postgres wants
            primary.exec("pg_basebackup", "-h", "127.0.0.1", "-p", Integer.toString(primary.port()), "-U", "postgres",
                    "-D", standby.toString(), "-R", "-c", "fast");
            int port = PgCluster.freePort();
            primary.exec("pg_ctl", "-D", standby.toString(), "-w", "-l", standby.resolveSibling("standby.log").toString(), "-o",
                    "-c port=" + port + " -c listen_addresses=127.0.0.1 -c unix_socket_directories=" + standby.getParent(), "start");
            try {
                primary.pgbench("-c", "2", "-t", "100", "-n"); // streamed to the standby, not in its base backup
                String end = primary.psql("SELECT pg_current_wal_lsn()");
                String standbyLsn = "";
                for (long deadline = System.nanoTime() + 60_000_000_000L; System.nanoTime() < deadline; Thread.sleep(100)) {
                    standbyLsn = primary.exec("psql", "-X", "-h", "127.0.0.1", "-p", Integer.toString(port), "-U", "postgres",
                            "-At", "-c", "SELECT pg_last_wal_replay_lsn() >= '" + end + "'").trim();
                    if (standbyLsn.equals("t")) {
                        break;
                    }
                }
                assertEquals("t", standbyLsn, "the standby replayed the primary's WAL");
                importFrom("src@standby", "standby", "basebackup://postgres@127.0.0.1:" + port);
                int branch = branch("s", "src@standby");
                assertEquals(dumpOf(primary), dumpOf(branch));
                d.amcheck(branch, "--all", "--install-missing");
            } finally {
                primary.exec("pg_ctl", "-D", standby.toString(), "-w", "-m", "immediate", "stop");
            }
        }
    }

    @Test
    void aStoppedDirectoryAndPgBasebackupTarsImport() throws Exception {
        try (PgCluster source = PgCluster.initdb().allowReplication().start()) {
            source.pgbench("-i", "-s", "1", "-q");
            source.pgbench("-c", "2", "-t", "200", "-n");
            String expected = dumpOf(source);
            Map<String, List<String>> tars = Map.of("plain", List.of(), "gz", List.of("-z"),
                    "zst", List.of("--compress=client-zstd"));
            for (var t : tars.entrySet()) {
                Path dir = source.scratch("tar-" + t.getKey());
                List<String> args = new java.util.ArrayList<>(List.of("-h", "127.0.0.1", "-p", Integer.toString(source.port()),
                        "-U", "postgres", "-D", dir.toString(), "-Ft", "-c", "fast"));
                args.addAll(t.getValue());
                source.exec("pg_basebackup", args.toArray(String[]::new));
            }
            source.stop();
            importFrom("src@dir", "fromdir", source.dataDir().toString());
            assertEquals(expected, dumpOf(branch("d", "src@dir")));
            for (String name : List.of("base.tar", "base.tar.gz", "base.tar.zst")) {
                String kind = name.equals("base.tar") ? "plain" : name.substring(name.lastIndexOf('.') + 1);
                Path tar = source.dataDir().getParent().resolve("tar-" + kind).resolve(name);
                try (Stream<Path> files = Files.list(tar.getParent())) {
                    assertTrue(files.anyMatch(f -> f.getFileName().toString().startsWith("pg_wal.tar")), "with its pg_wal tar: " + tar);
                }
                importFrom("src@" + kind, "from" + kind, tar.toString());
                int port = branch("t" + kind, "src@" + kind);
                assertEquals(expected, dumpOf(port), name);
                d.amcheck(port, "--all", "--install-missing");
            }
        }
    }

    @Test
    void pgDumpOutputImportsPlainAndCustom() throws Exception {
        try (PgCluster source = PgCluster.initdb().start()) {
            source.pgbench("-i", "-s", "1", "-q");
            source.pgbench("-c", "2", "-t", "100", "-n");
            source.psql("CREATE TABLE notes (id int PRIMARY KEY, body text); INSERT INTO notes SELECT g, repeat(md5(g::text), 20)"
                    + " FROM generate_series(1, 2000) g");
            String expected = dumpOf(source);
            Path plain = source.scratch("dumps").resolve("dump.sql");
            Path custom = plain.resolveSibling("dump.custom");
            source.exec("pg_dump", "-h", "127.0.0.1", "-p", Integer.toString(source.port()), "-U", "postgres", "-d", "postgres",
                    "-f", plain.toString());
            source.exec("pg_dump", "-h", "127.0.0.1", "-p", Integer.toString(source.port()), "-U", "postgres", "-d", "postgres",
                    "-Fc", "-f", custom.toString());
            importFrom("src@plain", "plain", plain.toString());
            int p1 = branch("p", "src@plain");
            assertEquals(expected, dumpOf(p1));
            d.amcheck(p1, "--all", "--install-missing");
            System.setProperty("zenith.home", d.home.toString());
            try { // through the CLI: a line per phase, and what to do next
                java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
                java.io.ByteArrayOutputStream err = new java.io.ByteArrayOutputStream();
                int code = new dev.zenith.cli.Main(new java.io.PrintStream(out, true), new java.io.PrintStream(err, true))
                        .run(List.of("snapshot", "import", "src@custom", "-s", "custom", "--from", custom.toString()));
                assertEquals(0, code, err.toString());
                assertTrue(err.toString().contains("zenith: import src@custom: restoring dump.custom with pg_restore"), err.toString());
                assertTrue(out.toString().startsWith("imported " + custom + " as snapshot src@custom (") && out.toString().contains(
                        "of new storage custom; branch it: zenith pg create NAME --snapshot src@custom"), out.toString());
            } finally {
                System.clearProperty("zenith.home");
            }
            assertEquals(expected, dumpOf(branch("c", "src@custom")));
        }
    }

    @Test
    void anEmptyAttachedStorageIsFilledWithTheJobShowingItsPhasesInBytes() throws Exception {
        try (PgCluster source = PgCluster.initdb()) { // initdb leaves it shut down cleanly: nothing to recover
            source.start();
            source.pgbench("-i", "-s", "1", "-q");
            source.stop();
            d.ok(201, "PUT", "/storages", new JsonObject().put("name", "empty").put("path", work.resolve("empty").toString()).encode());
            HttpResponse<String> accepted = d.unauthenticated("POST", "/imports", new JsonObject().put("snapshot", "src@s")
                    .put("storage", "empty").put("from", source.dataDir().toString()).encode(), "Authorization",
                    "Bearer " + d.apiToken(), "Content-Type", "application/json", "Prefer", "respond-async");
            assertEquals(202, accepted.statusCode(), accepted.body());
            String location = accepted.headers().firstValue("location").orElseThrow();
            JsonObject job;
            do {
                Thread.sleep(20);
                job = (JsonObject) d.ok(200, "GET", location, null);
            } while ("running".equals(job.getString("state")));
            assertEquals("succeeded", job.getString("state"), job.encode());
            assertEquals(false, job.getJsonObject("result").getBoolean("storage_created"));
            assertTrue(job.getJsonArray("phases").contains("copying " + source.dataDir()), job.encode());
            // the last phase, storing the image, runs under the management lock on another thread: still this job's
            assertEquals("storing the new cluster as the storage's first image", job.getString("phase"), job.encode());
            assertTrue(job.getLong("done_bytes") > 10 << 20 && job.getLong("done_bytes").equals(job.getLong("total_bytes")),
                    "pgbench's tables counted: " + job.encode());
            source.start();
            assertEquals(dumpOf(source), dumpOf(branch("e", "src@s")));
        }
    }

    @Test
    void badSourcesAndTargetsAreRefusedAndChangeNothing() throws Exception {
        try (PgCluster source = PgCluster.initdb()) {
            Path fake14 = source.scratch("v14");
            copyTree(source.dataDir(), fake14);
            Files.writeString(fake14.resolve("PG_VERSION"), "14\n");
            Path fake16 = source.scratch("v16");
            copyTree(source.dataDir(), fake16);
            Files.writeString(fake16.resolve("PG_VERSION"), "16\n");
            Path garbage = work.resolve("garbage.tar");
            Files.writeString(garbage, "not a tar at all, nor anything else".repeat(40));
            Path notDump = work.resolve("x.custom");
            Files.writeString(notDump, "SELECT 1;");
            Path badSql = work.resolve("bad.sql");
            Files.writeString(badSql, "CREATE TABLE t (id int);\nTHIS IS NOT SQL;\n");

            refused(400, "s@a", "n1", fake14.toString(), "PostgreSQL 14 cluster (PG_VERSION)");
            refused(400, "s@a", "n1", fake16.toString(), "PostgreSQL 16 cluster (PG_VERSION)");
            refused(400, "s@a", "n1", work.resolve("nothing").toString(), "is not a directory");
            refused(400, "s@a", "n1", work.toString(), "no PG_VERSION");
            refused(400, "s@a", "n1", garbage.toString(), "garbage.tar");
            refused(400, "s@a", "n1", notDump.toString(), "not a pg_dump custom-format archive");
            refused(400, "s@a", "n1", badSql.toString(), "restoring");
            refused(400, "s@a", "n1", "relative/dir", "absolute path");
            refused(400, "s@a", "n1", "s3://bucket/x", "basebackup://");
            refused(400, "s@a", "n1", "basebackup://127.0.0.1:5432", "needs a user");
            refused(400, "s@a", "n1", "basebackup://postgres@127.0.0.1:" + PgCluster.freePort(), "cannot connect");
            refused(400, "nope", "n1", source.dataDir().toString(), "PG@SNAP");

            source.start();
            refused(409, "s@a", "n1", source.dataDir().toString(), "is running");
            d.createPg("main"); // storage local now holds a cluster
            refused(409, "s@a", "local", source.dataDir().toString(), "holds a cluster already");
            source.stop();
            importFrom("s@a", "n2", source.dataDir().toString());
            refused(409, "s@a", "n3", source.dataDir().toString(), "already exists");
        }
        assertEquals(new TreeSet<>(List.of("local", "n2")), storageNames());
        try (Stream<Path> s = Files.list(d.home.resolve("storages"))) {
            assertEquals(new TreeSet<>(List.of("local", "n2")), new TreeSet<>(s.map(p -> p.getFileName().toString()).toList()),
                    "no storage directory from a refused import");
        }
        try (Stream<Path> s = Files.exists(d.home.resolve("tmp")) ? Files.list(d.home.resolve("tmp")) : Stream.empty()) {
            assertTrue(s.noneMatch(p -> p.getFileName().toString().startsWith("import-")), "no staging left");
        }
    }

    private JsonObject importFrom(String snapshot, String storage, String from) throws Exception {
        JsonObject j = (JsonObject) d.ok(201, "POST", "/imports", new JsonObject().put("snapshot", snapshot).put("storage", storage)
                .put("from", from).encode());
        assertEquals(snapshot, j.getString("snapshot"));
        assertEquals(storage, j.getString("storage"));
        return j;
    }

    private void refused(int status, String snapshot, String storage, String from, String why) throws Exception {
        HttpResponse<String> r = d.request("POST", "/imports", new JsonObject().put("snapshot", snapshot).put("storage", storage)
                .put("from", from).encode());
        assertEquals(status, r.statusCode(), from + ": " + r.body());
        assertTrue(r.body().contains(why), from + ": " + r.body());
    }

    private java.util.Set<String> storageNames() throws Exception {
        JsonArray a = (JsonArray) d.ok(200, "GET", "/storages", null);
        return new TreeSet<>(a.stream().map(o -> ((JsonObject) o).getString("name")).toList());
    }

    /** A pg branched at the snapshot; its port. */
    private int branch(String name, String snapshot) throws Exception {
        return ((JsonObject) d.ok(201, "PUT", "/pgs", new JsonObject().put("name", name).put("snapshot", snapshot).encode()))
                .getInteger("port");
    }

    private String dumpOf(int port) throws IOException {
        return comparable(d.client(port, List.of(d.pg.bin("pg_dump").toString(), "-w", "-h", "127.0.0.1", "-p", Integer.toString(port),
                "-U", "postgres", "-d", "postgres")));
    }

    private static String dumpOf(PgCluster source) throws IOException {
        return comparable(source.exec("pg_dump", "-h", "127.0.0.1", "-p", Integer.toString(source.port()), "-U", "postgres",
                "-d", "postgres"));
    }

    /** Without the random key of pg_dump's \restrict lines, which differs from run to run. */
    private static String comparable(String dump) {
        return dump.replaceAll("(?m)^\\\\(un)?restrict .*$", "");
    }

    private static void copyTree(Path from, Path to) throws IOException {
        try (Stream<Path> s = Files.walk(from)) {
            for (Path p : s.toList()) {
                Path t = to.resolve(from.relativize(p).toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(t);
                } else {
                    Files.copy(p, t);
                }
            }
        }
    }
}
