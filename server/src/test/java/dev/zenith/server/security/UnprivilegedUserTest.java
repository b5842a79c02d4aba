package dev.zenith.server.security;

import dev.zenith.pgexec.PgInstallation;
import dev.zenith.server.testing.DaemonFixture;
import dev.zenith.server.testing.LocalUser;
import dev.zenith.testkit.PgCluster;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

import static dev.zenith.server.testing.LocalUser.nobody;
import static dev.zenith.server.testing.LocalUser.owner;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Another local user (the OS user {@code nobody}, through runuser) attacks the owner's zenith the ways
 * issue 19 found open: logging in to a compute, the REST API without the token, a browser's cross-site
 * request and DNS rebinding, the old default replication password, a base backup, reading the files.
 * Each attack fails, and what the owner does with the same tools still works.
 */
@Tag("pg")
class UnprivilegedUserTest {
    static DaemonFixture d;
    static int victimPort;
    static String victimConnstr;

    @BeforeAll
    static void start() throws Exception {
        assumeTrue(PgInstallation.isRoot(), "the attacks run as the unprivileged user 'nobody' through runuser, which"
                + " needs root: run the suite as root to run them");
        d = new DaemonFixture().startInProcess();
        JsonObject victim = d.createPg("victim");
        victimPort = victim.getInteger("port");
        victimConnstr = victim.getString("connstr");
        d.psql(victimPort, "CREATE TABLE secret AS SELECT 42 AS x");
    }

    @AfterAll
    static void stop() throws Exception {
        if (d != null) {
            d.close();
        }
    }

    static String bin(String tool) {
        return d.pg.bin(tool).toString();
    }

    /** curl's HTTP status for a request to the REST API; {@code args} are curl's. */
    static String curlStatus(boolean asNobody, String method, String path, String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", method));
        cmd.addAll(List.of(args));
        cmd.add("http://127.0.0.1:" + d.httpPort + path);
        LocalUser.Run r = asNobody ? nobody(cmd.toArray(String[]::new)) : owner(cmd.toArray(String[]::new));
        return r.out();
    }

    static String ownersToken() {
        return "Authorization: Bearer " + d.apiToken();
    }

    @Test
    void computesAskForThePasswordThatOnlyTheOwnerHas() throws Exception {
        LocalUser.Run noPassword = nobody(bin("psql"), "-X", "-w", "-h", "127.0.0.1", "-p", Integer.toString(victimPort), "-U", "postgres",
                "-c", "COPY (SELECT 1) TO PROGRAM 'id'");
        assertNotEquals(0, noPassword.code(), noPassword.out());
        assertTrue(noPassword.out().contains("no password supplied"), noPassword.out());
        LocalUser.Run printed = nobody(bin("psql"), "-X", "-w", victimConnstr, "-c", "SELECT x FROM secret");
        assertNotEquals(0, printed.code(), "the printed connection string names a file nobody cannot read: " + printed.out());
        LocalUser.Run guessed = nobody("env", "PGPASSWORD=postgres", bin("psql"), "-X", "-w", "-h", "127.0.0.1", "-p",
                Integer.toString(victimPort), "-U", "postgres", "-c", "SELECT 1");
        assertTrue(guessed.out().contains("password authentication failed"), guessed.out());

        // the owner: the printed connection string as it is, psql and pgbench, no password typed
        assertEquals(new LocalUser.Run(0, "42"), owner(bin("psql"), "-X", "-w", "-At", victimConnstr, "-c", "SELECT x FROM secret"));
        LocalUser.Run bench = owner(bin("pgbench"), "-i", "-s", "1", "-q", victimConnstr);
        assertEquals(0, bench.code(), bench.out());
        // a branch of it: its own port, the same password, in the same password file
        JsonObject branch = (JsonObject) d.ok(201, "PUT", "/pgs", new JsonObject().put("name", "branch").put("from", "victim").encode());
        String branchConnstr = branch.getString("connstr");
        assertEquals(new LocalUser.Run(0, "42"), owner(bin("psql"), "-X", "-w", "-At", branchConnstr, "-c", "SELECT x FROM secret"));
        LocalUser.Run intoBranch = nobody(bin("psql"), "-X", "-w", branchConnstr, "-c", "SELECT 1");
        assertNotEquals(0, intoBranch.code(), intoBranch.out());
        d.ok(200, "DELETE", "/pgs/branch", null);
    }

    @Test
    void theRestApiWantsTheTokenAndJson() throws Exception {
        assertEquals("401", curlStatus(true, "DELETE", "/pgs/victim"));
        assertEquals("401", curlStatus(true, "GET", "/pgs"));
        assertEquals("401", curlStatus(true, "POST", "/shutdown"));
        assertEquals("401", curlStatus(true, "PUT", "/storages", "-H", "Content-Type: application/json",
                "-d", "{\"name\":\"mine\",\"path\":\"/tmp/zenith-by-nobody\"}"));
        assertFalse(Files.exists(Path.of("/tmp/zenith-by-nobody")));
        assertEquals("401", curlStatus(true, "GET", "/pgs", "-H", "Authorization: Bearer " + "x".repeat(43)));
        assertEquals("200", curlStatus(true, "GET", "/health"), "the health check needs no token");
        assertEquals("running", d.pg("victim").getString("status"));

        // A web page's "simple" cross-site POST is text/plain (or a form): refused, token or not.
        assertEquals("415", curlStatus(true, "POST", "/pgs/victim/actions", "-H", "Content-Type: text/plain",
                "-d", "{\"action\":\"stop\"}"));
        assertEquals("415", curlStatus(false, "POST", "/pgs/victim/actions", "-H", ownersToken(),
                "-H", "Content-Type: text/plain", "-d", "{\"action\":\"stop\"}"));
        assertEquals("415", curlStatus(false, "POST", "/shutdown", "-H", ownersToken(),
                "-H", "Content-Type: application/x-www-form-urlencoded", "-d", "x=1"));
        assertEquals("running", d.pg("victim").getString("status"));
        assertEquals(200, d.request("GET", "/status", null).statusCode(), "the daemon still runs");
    }

    @Test
    void aForeignHostOrOriginIsRefusedEvenWithTheToken() throws Exception {
        // DNS rebinding: the page's own name in Host, sent to 127.0.0.1
        assertEquals("403", curlStatus(true, "GET", "/status", "-H", "Host: attacker.example:" + d.httpPort));
        assertEquals("403", curlStatus(false, "GET", "/status", "-H", ownersToken(), "-H", "Host: attacker.example:" + d.httpPort));
        assertEquals("200", curlStatus(false, "GET", "/status", "-H", ownersToken(), "-H", "Host: localhost:" + d.httpPort));
        // CSRF: a page of another origin
        assertEquals("403", curlStatus(false, "POST", "/pgs/victim/actions", "-H", ownersToken(), "-H",
                "Origin: http://attacker.example", "-H", "Content-Type: application/json", "-d", "{\"action\":\"stop\"}"));
        assertEquals("403", curlStatus(false, "GET", "/pgs", "-H", ownersToken(), "-H", "Origin: http://127.0.0.1:1"));
        assertEquals("403", curlStatus(false, "GET", "/pgs", "-H", ownersToken(), "-H", "Origin: null"));
        assertEquals("running", d.pg("victim").getString("status"));
        assertEquals("200", curlStatus(false, "GET", "/pgs", "-H", ownersToken(), "-H", "Origin: http://127.0.0.1:" + d.httpPort));

        // OPTIONS: the methods a path has; a cross-site preflight gets no CORS grant
        LocalUser.Run options = owner("curl", "-s", "-i", "-X", "OPTIONS", "http://127.0.0.1:" + d.httpPort + "/pgs/victim");
        assertTrue(options.out().startsWith("HTTP/1.1 204"), options.out());
        assertTrue(options.out().toLowerCase().contains("allow: delete, get, options"), options.out());
        LocalUser.Run preflight = owner("curl", "-s", "-i", "-X", "OPTIONS", "-H", "Origin: http://attacker.example",
                "-H", "Access-Control-Request-Method: DELETE", "http://127.0.0.1:" + d.httpPort + "/pgs/victim");
        assertTrue(preflight.out().startsWith("HTTP/1.1 403"), preflight.out());
        assertFalse(preflight.out().toLowerCase().contains("access-control-allow"), preflight.out());
        assertEquals("404", curlStatus(false, "OPTIONS", "/nowhere"));
    }

    @Test
    void theReplicationPortRefusesTheOldDefaultPasswordAndNoPassword() throws Exception {
        String backup = "/tmp/zenith-nobody-backup-" + UUID.randomUUID();
        try {
            LocalUser.Run oldDefault = nobody("env", "PGPASSWORD=zenith", bin("pg_basebackup"), "-h", "127.0.0.1", "-p",
                    Integer.toString(d.pgPort), "-U", "zenith", "-w", "-D", backup, "-X", "fetch");
            assertNotEquals(0, oldDefault.code(), oldDefault.out());
            assertTrue(oldDefault.out().contains("password authentication failed for user \"zenith\""), oldDefault.out());
            LocalUser.Run none = nobody(bin("pg_basebackup"), "-h", "127.0.0.1", "-p", Integer.toString(d.pgPort), "-U", "zenith", "-w",
                    "-D", backup, "-X", "fetch");
            assertNotEquals(0, none.code(), none.out());
            assertTrue(none.out().contains("no password supplied"), none.out());
            assertFalse(Files.exists(Path.of(backup, "base")) || Files.exists(Path.of(backup, "global")), "nothing was sent");
        } finally {
            PgCluster.deleteTree(Path.of(backup));
        }
        // the owner, with the password file zenith wrote
        Path mine = DaemonFixture.reachableTempDir("owner-backup-");
        try {
            String out = d.client(d.pgPort, List.of(bin("pg_basebackup"), "-h", "127.0.0.1", "-p", Integer.toString(d.pgPort),
                    "-U", "zenith", "-w", "-D", mine.resolve("b").toString(), "-X", "fetch"));
            assertTrue(Files.exists(mine.resolve("b/global/pg_control")), out);
        } finally {
            PgCluster.deleteTree(mine);
        }
    }

    @Test
    void otherUsersCannotReadTheFiles() throws Exception {
        for (String f : List.of("api-token", "pgpass", "replication-password", "zenith.lock", "storages.json")) {
            LocalUser.Run cat = nobody("cat", d.home.resolve(f).toString());
            assertNotEquals(0, cat.code(), f + ": " + cat.out());
            assertTrue(cat.out().contains("Permission denied"), cat.out());
        }
        LocalUser.Run list = nobody("ls", d.home.toString());
        assertTrue(list.out().contains("Permission denied"), list.out());
        JsonObject victim = d.pg("victim");
        for (String p : List.of(victim.getString("pgdata") + "/global/pg_control", victim.getString("logfile"),
                d.home.resolve("storages/local/data.mdb").toString())) {
            assertNotEquals(0, nobody("test", "-r", p).code(), p);
        }
        assertEquals("600", mode(d.home.resolve("api-token")));
        assertEquals("600", mode(d.home.resolve("pgpass")));
        assertEquals("600", mode(d.home.resolve("replication-password")));
        assertEquals("600", mode(Path.of(victim.getString("logfile"))));
        assertEquals("700", mode(d.home.resolve("storages/local")));
        assertEquals("700", mode(Path.of(victim.getString("pgdata"))));
        // PostgreSQL's own user may pass through to its data directories (0710, its group), no one else
        assertEquals("710", mode(d.home));
        assertEquals("710", mode(Path.of(victim.getString("pgdata")).getParent()));
        assertTrue(d.apiToken().length() >= 43, "256 random bits");
    }

    @Test
    void aStorageIsNotMadeWhereAnotherUserCouldSwapIt() throws Exception {
        Path theirs = Path.of("/tmp/zenith-nobodys-" + UUID.randomUUID());
        try {
            assertEquals(0, nobody("mkdir", theirs.toString()).code());
            var inside = d.request("PUT", "/storages", new JsonObject().put("name", "inside").put("path",
                    theirs.resolve("store").toString()).encode());
            assertEquals(400, inside.statusCode(), inside.body());
            assertTrue(inside.body().contains("belongs to user 'nobody'"), inside.body());
            assertFalse(Files.exists(theirs.resolve("store")), "nothing was created there");
            var at = d.request("PUT", "/storages", new JsonObject().put("name", "at").put("path", theirs.toString()).encode());
            assertEquals(400, at.statusCode(), at.body());
            assertFalse(Files.exists(theirs.resolve("data.mdb")));
        } finally {
            PgCluster.deleteTree(theirs);
        }
    }

    /** A daemon of its own: the failures it provokes would slow the other tests' logins for a minute. */
    @Test
    void failedReplicationLoginsSlowDownTheNextOnesFromThatAddress() throws Exception {
        try (DaemonFixture own = new DaemonFixture()) {
            own.pgSettings.put("authentication_timeout_ms", 10_000); // a login waits at most 5 s for its turn
            own.startInProcess();
            own.ok(201, "PUT", "/pgs", new JsonObject().put("name", "main").put("start", false).encode());
            guessReplicationPassword(own);
        }
    }

    private static void guessReplicationPassword(DaemonFixture d) throws Exception {
        List<String> wrong = List.of("env", "PGPASSWORD=wrong", bin("psql"), "-X", "-w", "host=127.0.0.1 port=" + d.pgPort
                + " user=zenith replication=true", "-c", "IDENTIFY_SYSTEM");
        long slowest = 0;
        for (int i = 1; i <= 6; i++) {
            long t0 = System.nanoTime();
            LocalUser.Run r = nobody(wrong.toArray(String[]::new));
            slowest = (System.nanoTime() - t0) / 1_000_000;
            assertTrue(r.out().contains("password authentication failed"), r.out());
        }
        // after 5 failures the next answer waits 1.6 s (0.1 s doubled per failure)
        assertTrue(slowest >= 1_500, "the 6th wrong login was answered after " + slowest + " ms");

        // Parallel guesses get no more answers: past 5 s of queue (half the authentication timeout), refused at once.
        List<Process> burst = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            burst.add(new ProcessBuilder(LocalUser.nobodyCommand(wrong)).redirectErrorStream(true).start());
        }
        int refused = 0;
        for (Process p : burst) {
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(p.waitFor(1, TimeUnit.MINUTES));
            assertFalse(out.contains("system identifier") || p.exitValue() == 0, out);
            refused += out.contains("too many failed logins") ? 1 : 0;
        }
        assertTrue(refused >= 5, refused + " of 8 parallel guesses refused");

        // the owner still gets in (once the queue has passed), with the password file
        Thread.sleep(6_000);
        String identified = d.client(d.pgPort, List.of(bin("psql"), "-X", "-w", "-At", "host=127.0.0.1 port=" + d.pgPort
                + " user=zenith replication=true", "-c", "IDENTIFY_SYSTEM"));
        assertTrue(identified.matches("(?s)\\d+\\|1\\|.*"), identified);
    }

    private static String mode(Path p) throws IOException {
        int m = (Integer) Files.getAttribute(p, "unix:mode");
        return Integer.toOctalString(m & 0777);
    }
}
