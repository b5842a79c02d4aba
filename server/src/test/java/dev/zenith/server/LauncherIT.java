package dev.zenith.server;

import dev.zenith.pgexec.Processes;
import dev.zenith.server.testing.CliRun;
import dev.zenith.server.config.ZenithConfig;
import dev.zenith.server.testing.DaemonFixture;
import dev.zenith.server.testing.Launcher;
import dev.zenith.server.testing.LocalUser;
import dev.zenith.server.testing.WalServiceClients;
import dev.zenith.testkit.PgCluster;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The real {@code ./zenith} launcher as a newcomer runs it (README), after {@code mvn package} built the
 * CLI and server jars: start, create a pg, connect, stop; and the class-data archives that make each
 * CLI command and daemon start faster.
 */
@Tag("pg")
@Tag("slow")
class LauncherIT {
    static final Path ROOT = Launcher.ROOT;
    DaemonFixture d; // its home and ports only: the launcher starts the daemon
    Path workDir; // where the user runs ./zenith, outside the home

    @BeforeEach
    void setUp() throws Exception {
        d = new DaemonFixture();
        workDir = Files.createTempDirectory("zenith-user-dir");
    }

    @AfterEach
    void tearDown() throws Exception {
        try {
            zenith("stop");
        } finally {
            d.close();
            PgCluster.deleteTree(workDir);
        }
    }

    private CliRun zenith(String... argv) throws Exception {
        return Launcher.run(d, workDir, java.util.Map.of(), argv);
    }

    /** {@code ./zenith ARGV} in the CLI's own JVM, never answered by the daemon. */
    private CliRun inJvm(String... argv) throws Exception {
        return Launcher.run(d, workDir, java.util.Map.of("ZENITH_CLI", "jvm"), argv);
    }

    private long daemonPid() throws Exception {
        return new JsonObject(Files.readString(d.home.resolve("daemon.json"))).getLong("pid");
    }

    private static String cmdline(long pid) throws Exception {
        return Files.readString(Path.of("/proc", Long.toString(pid), "cmdline")).replace('\0', ' ');
    }

    private static List<Path> daemonArchives() throws Exception {
        List<Path> found = new ArrayList<>();
        try (var dir = Files.newDirectoryStream(ROOT.resolve("server/target"), "zenith-server-*.jsa")) {
            dir.forEach(found::add);
        }
        return found;
    }

    @Test
    void readmeStartCreateConnectStop() throws Exception {
        CliRun started = zenith("start");
        assertEquals(0, started.code(), started.err());
        assertTrue(started.out().contains("zenith started (pid ") && started.out().contains("log:"), started.out());
        CliRun again = zenith("start");
        assertEquals(0, again.code(), again.err());
        assertTrue(again.out().contains("already running"), again.out());

        // The README's two commands; then its psql command, as printed, works for the owner (and only for the owner).
        CliRun created = zenith("pg", "create", "main");
        assertEquals(0, created.code(), created.err());
        String hint = created.out().lines().filter(l -> l.startsWith("connect with:  ")).findFirst()
                .orElseThrow(() -> new AssertionError(created.out()));
        String printed = hint.substring(hint.indexOf("psql '"));
        assertEquals(new LocalUser.Run(0, "1"), LocalUser.owner("bash", "-c", "PATH=" + d.pg.binDir() + ":$PATH "
                + printed + " -X -w -At -c 'SELECT 1'"));
        assertEquals(new CliRun(0, "1\n", ""), zenith("pg", "connect", "main", "-X", "-w", "-At", "-c", "SELECT 1"));
        JsonObject pg = new JsonObject(zenith("pg", "show", "main", "--json").out());
        assertEquals("running", pg.getString("status"));
        String connstr = pg.getString("connstr");
        LocalUser.Run bench = LocalUser.owner(d.pg.bin("pgbench").toString(), "-i", "-s", "1", "-q", connstr);
        assertEquals(0, bench.code(), bench.out());
        // and the README's replication example: the password file zenith wrote
        Path backup = workDir.resolve("backup");
        LocalUser.Run basebackup = LocalUser.owner("env", "PGPASSFILE=" + d.home.resolve("pgpass"),
                d.pg.bin("pg_basebackup").toString(), "-h", "127.0.0.1", "-p", Integer.toString(d.pgPort), "-U", "zenith",
                "-w", "-D", backup.toString(), "-X", "stream");
        assertEquals(0, basebackup.code(), basebackup.out());
        if (dev.zenith.pgexec.PgInstallation.isRoot()) {
            LocalUser.Run stranger = LocalUser.nobody("bash", "-c", "PATH=" + d.pg.binDir() + ":$PATH " + printed
                    + " -X -w -At -c 'SELECT 1'");
            assertTrue(stranger.code() != 0 && stranger.out().contains("password"), stranger.out());
        }
        CliRun status = zenith("status");
        assertEquals(0, status.code(), status.err());
        assertTrue(status.out().contains("main") && status.out().contains("running"), status.out());

        long pid = daemonPid();
        CliRun stopped = zenith("stop");
        assertEquals(new CliRun(0, "zenith stopped\n", "zenith: stopping 1 running pg cleanly, then the daemon...\n"), stopped);
        assertFalse(Processes.isRunning(pid), "the daemon is gone when stop returns");
        assertFalse(Files.exists(Path.of(pg.getString("pgdata"), "postmaster.pid")), "its compute stopped cleanly first");
        assertEquals(new CliRun(0, "zenith is not running (ZENITH_HOME=" + d.home + ")\n", ""), zenith("stop"));
    }

    @Test
    void sigtermStopsComputesCleanlyAndTheLogSaysSo() throws Exception {
        assertEquals(0, zenith("start").code());
        CliRun created = zenith("pg", "create", "-n", "main", "--json");
        assertEquals(0, created.code(), created.err());
        d.psql(new JsonObject(created.out()).getInteger("port"), "CREATE TABLE t AS SELECT 1 AS x");
        long pid = daemonPid();
        Processes.signal(pid, "TERM");
        assertTrue(Processes.awaitExit(pid, 120_000), "the daemon exits on SIGTERM");
        // the daemon's own shutdown (computes stopped, their images taken) is in its log, not cut off by JDK logging's
        String log = Files.readString(d.home.resolve("zenith.log"));
        assertTrue(log.contains("image at ") && log.contains("after clean stop"), log);
        assertTrue(log.strip().endsWith("zenith stopped"), log.substring(Math.max(0, log.length() - 2000)));
    }

    @Test
    void aTakenPortIsNamedWithItsSetting() throws Exception {
        try (java.net.ServerSocket taken = new java.net.ServerSocket(d.pgPort, 1, java.net.InetAddress.getLoopbackAddress())) {
            CliRun refused = zenith("start");
            assertEquals(1, refused.code(), refused.toString());
            assertTrue((refused.out() + refused.err()).contains("cannot listen on 127.0.0.1:" + d.pgPort
                    + " for the PostgreSQL protocol (pg.port, ZENITH_PG_PORT)"), refused.toString());
        }
        assertEquals(new CliRun(3, "zenith is not running (ZENITH_HOME=" + d.home + ")\n", ""), zenith("status"));
    }

    @Test
    void relativePathsMeanTheUsersDirectoryWhichTheDaemonLeavesAlone() throws Exception {
        assertEquals(0, zenith("start").code());
        long pid = daemonPid();
        assertEquals(d.home.toRealPath(), Path.of("/proc", Long.toString(pid), "cwd").toRealPath(),
                "the daemon works in its home");

        CliRun attached = zenith("storage", "attach", "-n", "mine", "--path", "stores/mine", "--json");
        assertEquals(0, attached.code(), attached.err());
        Path expected = workDir.resolve("stores/mine");
        assertEquals(expected.toString(), new JsonObject(attached.out()).getString("path"));
        assertTrue(Files.isRegularFile(expected.resolve("data.mdb")), "the store is where the user pointed");
        try (var entries = Files.list(workDir)) {
            assertEquals(List.of(workDir.resolve("stores")), entries.toList(),
                    "nothing else appears where zenith was run (e.g. an upload directory)");
        }
        assertEquals(2, zenith("storage", "detach", "-n", "mine").code(), "detach asks, or needs --yes");
        assertEquals(0, zenith("storage", "detach", "-n", "mine", "--yes").code());
    }

    @Test
    void daemonStartsFromAClassDataArchiveWrittenByTheFirstDaemonOfABuild() throws Exception {
        for (Path old : daemonArchives()) {
            Files.delete(old);
        }
        assertEquals(0, zenith("start").code());
        assertTrue(cmdline(daemonPid()).contains("-XX:ArchiveClassesAtExit="), cmdline(daemonPid()));
        assertEquals(0, zenith("stop").code());
        List<Path> archives = daemonArchives();
        assertEquals(1, archives.size(), "written when the daemon exited: " + archives);

        assertEquals(0, zenith("start").code());
        long pid = daemonPid();
        assertTrue(Files.readString(Path.of("/proc", Long.toString(pid), "maps")).contains(archives.get(0).toString()),
                "the JVM mapped the archive, it did not just get the flag: " + cmdline(pid));
        assertEquals(200, d.request("GET", "/status", null).statusCode());
    }

    @Test
    void cliKeepsAClassDataArchiveAndItsOutputClean() throws Exception {
        assertEquals(0, zenith("start").code());
        Path archive = ROOT.resolve("cli-terminal/target/zenith-cli.jsa");
        Path jar = archive.resolveSibling("zenith-cli.jar");
        Files.deleteIfExists(archive);

        // in the CLI's JVM: a running daemon would answer storage list itself (LeanCliIT)
        CliRun first = inJvm("storage", "list", "--json"); // writes the archive at exit
        assertEquals(0, first.code(), first.err());
        assertEquals("", first.err());
        assertEquals("local", new JsonArray(first.out()).getJsonObject(0).getString("name"));
        assertTrue(Files.isRegularFile(archive), "the first command after a build leaves " + archive);
        FileTime written = Files.getLastModifiedTime(archive);

        CliRun second = inJvm("storage", "list", "--json"); // runs from it
        assertEquals(first, second);
        assertEquals(written, Files.getLastModifiedTime(archive), "a fresh archive is used, not written again");

        // An archive older than the jar (a rebuild) is not used, silently, and is written again.
        Files.setLastModifiedTime(archive, FileTime.fromMillis(Files.getLastModifiedTime(jar).toMillis() - 10_000));
        CliRun afterRebuild = inJvm("storage", "list", "--json");
        assertEquals(first, afterRebuild);
        assertTrue(Files.getLastModifiedTime(archive).compareTo(Files.getLastModifiedTime(jar)) > 0);

        assertEquals(new CliRun(1, "", "zenith: pg 'nope' not found (see: zenith pg list)\n"), inJvm("pg", "show", "-n", "nope"));
        assertEquals(new CliRun(1, "", "zenith: pg 'nope' not found (see: zenith pg list)\n"), zenith("pg", "show", "-n", "nope"));
    }

    /**
     * The daemon zenith start launches keeps to conf/zenith.json's memory bound (daemon.max_heap_mb): over
     * five branch loops on a pgbench scale 10 database (each: a branch created and written to, a snapshot
     * diff, a base backup of the branch, the branch destroyed, gc) its RSS stays at most 1 GiB, and idle it
     * falls to at most 512 MiB. Without the bound the JVM grew its heap to GBs and kept it (1.9 GB RSS).
     * Measured as anonymous RSS (heap, direct buffers, metaspace, stacks): LMDB's pages are a file mapping,
     * counted in VmRSS as page cache the kernel takes back under pressure (one CI run saw 520 MiB VmRSS idle).
     */
    @Test
    void theDaemonsMemoryStaysBoundedOverBranchLoops() throws Exception {
        assertEquals(0, zenith("start").code());
        long pid = daemonPid();
        assertTrue(cmdline(pid).contains("-Xmx" + ZenithConfig.DEFAULT_MAX_HEAP_MB + "m"), cmdline(pid));
        CliRun created = zenith("pg", "create", "main", "--json");
        assertEquals(0, created.code(), created.err());
        int port = new JsonObject(created.out()).getInteger("port");
        d.pgbench(port, "-i", "-s", "10", "-q");
        assertEquals(0, zenith("snapshot", "create", "main@before").code());
        WalServiceClients clients = new WalServiceClients(d);
        long peak = 0;
        for (int i = 0; i < 5; i++) {
            CliRun branch = zenith("pg", "create", "b" + i, "main", "--json");
            assertEquals(0, branch.code(), branch.err());
            d.pgbench(new JsonObject(branch.out()).getInteger("port"), "-n", "-c", "4", "-t", "500");
            d.pgbench(port, "-n", "-t", "200");
            assertEquals(0, zenith("snapshot", "create", "main@s" + i).code());
            assertEquals(0, zenith("snapshot", "diff", "main@before", "main@s" + i).code());
            Path backup = workDir.resolve("backup" + i);
            clients.run("pg_basebackup", "-D", backup.toString(), "-Ft", "-X", "fetch", "-d", "options='-c zenith.pg=b" + i + "'");
            PgCluster.deleteTree(backup);
            assertEquals(0, zenith("pg", "destroy", "b" + i, "--yes").code());
            assertEquals(0, zenith("storage", "gc", "local").code());
            peak = Math.max(peak, rssBytes(pid));
        }
        assertTrue(peak <= 1L << 30, "anonymous RSS after branch loops: " + (peak >> 20) + " MiB");
        long idle = rssBytes(pid);
        for (long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(3); idle > 512L << 20 && System.nanoTime() < deadline; ) {
            Thread.sleep(1000);
            idle = rssBytes(pid);
        }
        assertTrue(idle <= 512L << 20, "anonymous RSS when idle: " + (idle >> 20) + " MiB");
    }

    private static long rssBytes(long pid) throws Exception {
        for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "status"))) {
            if (line.startsWith("RssAnon:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", "")) << 10;
            }
        }
        throw new IllegalStateException("no RssAnon for " + pid);
    }
}
