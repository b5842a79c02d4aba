package dev.zenith.server.api;

import dev.zenith.server.testing.CliRun;
import dev.zenith.server.testing.DaemonFixture;
import dev.zenith.server.testing.Launcher;
import dev.zenith.server.testing.LocalUser;
import dev.zenith.testkit.PgCluster;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The launcher's lean path: the read-only commands a running daemon answers (POST /cli, no JVM start) print
 * what the zenith program prints, byte for byte, with its exit code, whatever the terminal and environment;
 * any other line, help and usage errors are the program's; the daemon runs nothing else and wants the token.
 * Also pg connstr, pg logs and zenith logs (-f too) as people use them, against a daemon of its own process.
 */
@Tag("pg")
class LeanCliIT {
    static DaemonFixture d;
    static Path workDir;
    static Instant lastCreated;

    @BeforeAll
    static void start() throws Exception {
        d = new DaemonFixture();
        d.computeSettings.put("autovacuum", "off"); // its analyses commit a minute in: "14 s ago" in one run, "15 s" in the next
        d.startProcess(); // its own JVM, which logs to ZENITH_HOME/zenith.log
        workDir = Files.createTempDirectory("zenith-user-dir");
        int main = d.createPg("main").getInteger("port");
        d.psql(main, "CREATE TABLE t (id int); INSERT INTO t SELECT generate_series(1, 100)");
        d.ok(201, "PUT", "/snapshots", new JsonObject().put("name", "main@first").encode());
        d.psql(main, "INSERT INTO t SELECT generate_series(101, 200)");
        d.ok(201, "PUT", "/snapshots", new JsonObject().put("name", "main@second-with-a-rather-long-name-to-cut").encode());
        d.ok(201, "PUT", "/pgs", new JsonObject().put("name", "dev").put("snapshot", "main@first").put("start", false).encode());
        d.ok(201, "PUT", "/pgs", new JsonObject().put("name", "rep").put("replica_of", "main").put("start", false).encode());
        lastCreated = Instant.now();
    }

    @AfterAll
    static void stop() throws Exception {
        d.close();
        PgCluster.deleteTree(workDir);
    }

    private static CliRun zenith(Map<String, String> env, String... argv) throws Exception {
        return Launcher.run(d, workDir, env, argv);
    }

    /**
     * {@code env} with ZENITH_CLI={@code cli}; for the daemon, also a JVM that cannot start, so that no answer
     * can come from the program.
     */
    private static Map<String, String> with(Map<String, String> env, String cli) {
        Map<String, String> all = new java.util.HashMap<>(env);
        all.put("ZENITH_CLI", cli);
        if (cli.equals("daemon")) {
            all.put("JAVA_TOOL_OPTIONS", "-XX:+NoSuchOptionSoNoJvmStarts");
        }
        return all;
    }

    /** The program's answer and the daemon's; again when a clock-driven cell ("2 min ago") moved in between. */
    private static void sameFromBoth(Map<String, String> env, boolean terminal, String... argv) throws Exception {
        CliRun program = null;
        CliRun daemon = null;
        for (int attempt = 0; attempt < 3 && (program == null || !program.equals(daemon)); attempt++) {
            program = terminal ? Launcher.runOnTerminal(d, workDir, with(env, "jvm"), argv) : zenith(with(env, "jvm"), argv);
            daemon = terminal ? Launcher.runOnTerminal(d, workDir, with(env, "daemon"), argv) : zenith(with(env, "daemon"), argv);
        }
        assertEquals(program, daemon, String.join(" ", argv) + " with " + env + (terminal ? " on a terminal" : ""));
    }

    @Test
    void theDaemonPrintsWhatTheProgramPrints() throws Exception {
        // "CREATED 1 min ago" stays put for a minute: both answers are then the same but when one straddles it
        long wait = Duration.between(Instant.now(), lastCreated.plusSeconds(61)).toMillis();
        if (wait > 0) {
            Thread.sleep(wait);
        }
        List<String[]> lines = List.of(
                new String[] {"pg", "list"}, new String[] {"pg", "ls", "-o", "wide"}, new String[] {"--json", "pg", "list"},
                new String[] {"pg", "list", "--tree"}, new String[] {"pg", "show", "main"}, new String[] {"pg", "show", "rep"},
                new String[] {"pg", "show", "-n", "main", "-o", "json"}, new String[] {"pg", "connstr", "main"},
                new String[] {"snapshot", "list"}, new String[] {"snapshot", "show", "main@first"},
                new String[] {"snapshot", "diff", "main@first", "main@second-with-a-rather-long-name-to-cut"},
                new String[] {"storage", "list"}, new String[] {"storage", "show", "local"}, new String[] {"status"},
                new String[] {"log", "main"}, new String[] {"log", "main", "--oneline", "-n", "3", "--since", "1 hour ago"},
                new String[] {"tree"}, new String[] {"__complete", "--", "pg", "show", ""},
                new String[] {"pg", "show", "nope"}, new String[] {"snapshot", "show", "main@nope"}, new String[] {"log", "nope"});
        for (String[] line : lines) {
            sameFromBoth(Map.of(), false, line);
        }
        // what the output depends on: colour, width, character set, time zone
        List<Map<String, String>> environments = List.of(Map.of("NO_COLOR", "1", "COLUMNS", "60"),
                Map.of("LANG", "C", "LC_ALL", "", "LC_CTYPE", ""), Map.of("TZ", "Asia/Tokyo"));
        for (Map<String, String> env : environments) {
            for (String[] line : List.of(new String[] {"pg", "list"}, new String[] {"snapshot", "list"}, new String[] {"tree"},
                    new String[] {"log", "main", "--oneline", "--since", "today 00:00"})) {
                sameFromBoth(env, false, line);
            }
        }
        if (Launcher.canRunOnTerminal()) {
            sameFromBoth(Map.of(), true, "pg", "list"); // colour
            sameFromBoth(Map.of("NO_COLOR", "1"), true, "status");
            CliRun coloured = Launcher.runOnTerminal(d, workDir, Map.of("TERM", "xterm"), "pg", "list");
            assertTrue(coloured.out().contains("\u001b["), "colour on a terminal: " + coloured);
            CliRun noColor = Launcher.runOnTerminal(d, workDir, Map.of("TERM", "xterm", "NO_COLOR", "1"), "pg", "list");
            assertTrue(!noColor.out().contains("\u001b["), "none with NO_COLOR: " + noColor);
        }
        assertTrue(!zenith(Map.of("TERM", "xterm"), "pg", "list").out().contains("\u001b["), "none on a pipe");
        CliRun ascii = zenith(Map.of("LANG", "C", "LC_ALL", "", "LC_CTYPE", ""), "tree");
        assertTrue(ascii.out().contains("`-- ") && ascii.out().chars().allMatch(c -> c < 128), ascii.out());
        CliRun unicode = zenith(Map.of("LANG", "C.UTF-8", "LC_ALL", "", "LC_CTYPE", ""), "tree");
        assertTrue(unicode.out().contains("└── "), unicode.out());
    }

    @Test
    void onlyServedLinesAreServedAndTheTokenIsNeeded() throws Exception {
        Map<String, String> daemonOnly = Map.of("ZENITH_CLI", "daemon");
        for (String[] line : List.of(new String[] {"pg", "list", "--help"}, new String[] {"pg", "lst"},
                new String[] {"remote", "add", "r", "file:///nowhere"}, new String[] {"logs"},
                new String[] {"pg", "stop", "main", "--help"}, new String[] {"snapshot", "create"})) {
            CliRun r = zenith(daemonOnly, line);
            assertEquals(new CliRun(70, "", "zenith: the daemon did not run this command (ZENITH_CLI=daemon)\n"), r,
                    String.join(" ", line));
        }
        if (Launcher.canRunOnTerminal()) { // a changing line on a terminal is the program's (bars, questions)
            for (String[] line : List.of(new String[] {"pg", "stop", "main"}, new String[] {"snapshot", "create", "main@x"})) {
                CliRun r = Launcher.runOnTerminal(d, workDir, daemonOnly, line);
                assertEquals(70, r.code(), String.join(" ", line) + ": " + r);
            }
        }
        assertEquals("running", d.pg("main").getString("status"), "nothing was stopped");
        assertEquals(404, d.request("GET", "/snapshots/main@x", null).statusCode(), "nothing was created");
        assertEquals(404, d.request("GET", "/remotes/r", null).statusCode(), "no remote added");
        // arguments are data for the command, never for a shell: quotes, $(...), backslashes, a newline
        Path marker = workDir.resolve("shell-ran");
        String hostile = "x\"; touch " + marker + "; echo \"$(touch " + marker + ")`touch " + marker + "`\\\n'";
        sameFromBoth(Map.of(), false, "pg", "show", hostile);
        CliRun ranByDaemon = zenith(daemonOnly, "pg", "show", hostile);
        assertTrue(ranByDaemon.code() != 70 && ranByDaemon.err().startsWith("zenith: "), "the daemon ran it: " + ranByDaemon);
        assertTrue(!Files.exists(marker), "no shell ran an argument");
        // the default path runs what the daemon does not: the program's did-you-mean
        CliRun typo = zenith(Map.of(), "pg", "lst");
        assertEquals(2, typo.code(), typo.toString());
        assertTrue(typo.err().contains("did you mean: ls or "), typo.err());

        var refused = d.request("POST", "/cli", new JsonObject().put("argv", new JsonArray().add("pg").add("stop").add("main"))
                .put("terminal", true).encode());
        assertEquals(422, refused.statusCode(), refused.body());
        assertEquals("running", d.pg("main").getString("status"));
        // a path is taken only from the daemon's own user, with the directory it is relative to
        Path tar = workDir.resolve("other-user.tar");
        JsonArray export = new JsonArray().add("snapshot").add("export").add("main@first").add("--to").add("other-user.tar");
        for (JsonObject line : List.of(new JsonObject().put("argv", export).put("cwd", workDir.toString()).put("uid", 4242424),
                new JsonObject().put("argv", export).put("uid", ownUid()), new JsonObject().put("argv", export)
                        .put("cwd", "relative/dir").put("uid", ownUid()))) {
            var notTaken = d.request("POST", "/cli", line.encode());
            assertEquals(422, notTaken.statusCode(), line + ": " + notTaken.body());
        }
        assertTrue(!Files.exists(tar), "nothing was exported");
        assertEquals(400, d.request("POST", "/cli", new JsonObject().put("argv", new JsonArray().add("status"))
                .put("env", new JsonObject().put("HOME", "/root")).encode()).statusCode(), "only the variables output depends on");
        var noToken = d.unauthenticated("POST", "/cli", new JsonObject().put("argv", new JsonArray().add("status")).encode(),
                "Content-Type", "application/json");
        assertEquals(401, noToken.statusCode(), noToken.body());
        String status = new JsonObject().put("argv", new JsonArray().add("status")).encode();
        var page = d.unauthenticated("POST", "/cli", status, "Content-Type", "application/json",
                "Authorization", "Bearer " + d.apiToken(), "Origin", "http://example.com");
        assertEquals(403, page.statusCode(), "a web page's request, even with the token: " + page.body());
        var simplePost = d.unauthenticated("POST", "/cli", status, "Content-Type", "text/plain",
                "Authorization", "Bearer " + d.apiToken());
        assertEquals(415, simplePost.statusCode(), "a page's 'simple' cross-site POST: " + simplePost.body());
        var served = d.request("POST", "/cli", new JsonObject().put("argv", new JsonArray().add("pg").add("connstr").add("main")).encode());
        assertEquals(200, served.statusCode());
        String connstr = d.pg("main").getString("connstr");
        assertEquals("0\n" + (connstr.length() + 1) + "\n" + connstr + "\n", served.body(), "exit code, stdout's length, stdout, stderr");
    }

    private static long ownUid() throws java.io.IOException {
        return ((Number) Files.getAttribute(Path.of("/proc/self"), "unix:uid")).longValue();
    }

    /**
     * A run's output with what differs between two runs of the same change made under two names taken out: the
     * names, LSNs, PostgreSQL timelines, times, ports and sizes (a job's phases show them as they were when looked
     * at; a second push sends less).
     */
    private static CliRun neutral(CliRun r, Map<String, String> names) throws Exception {
        return new CliRun(r.code(), neutral(r.out(), names), neutral(r.err(), names));
    }

    private static String neutral(String text, Map<String, String> names) throws Exception {
        String t = text;
        for (var e : names.entrySet()) {
            t = t.replace(e.getKey(), e.getValue());
        }
        t = t.replaceAll("[0-9A-F]{1,8}/[0-9A-F]{1,8}", "LSN").replaceAll("timeline \\d+", "timeline N")
                .replaceAll("\\d{4}-\\d\\d-\\d\\d[ T]\\d\\d:\\d\\d(:\\d\\d(\\.\\d+)?)?( ?UTC|Z)?", "TIME")
                .replaceAll(" \\([0-9.]+ [KMGT]?i?B\\)\\.\\.\\.", "...").replaceAll("\\b[0-9.]+ [KMGT]?i?B\\b", "SIZE");
        return t.replaceAll("\\b\\d{4,5}\\b", "PORT");
    }

    /**
     * A change made once by the program and once by the daemon, to names of its own each ({@code NAME} in the
     * line): the same exit code and output but for what {@link #neutral} takes out. The daemon's run cannot come
     * from the program (its JVM cannot start).
     */
    private static void sameChange(String program, String daemon, String... line) throws Exception {
        String[] p = java.util.Arrays.stream(line).map(a -> a.replace("NAME", program)).toArray(String[]::new);
        String[] q = java.util.Arrays.stream(line).map(a -> a.replace("NAME", daemon)).toArray(String[]::new);
        CliRun byProgram = zenith(with(Map.of(), "jvm"), p);
        CliRun byDaemon = zenith(with(Map.of(), "daemon"), q);
        assertEquals(neutral(byProgram, Map.of(program, "NAME")), neutral(byDaemon, Map.of(daemon, "NAME")),
                String.join(" ", line) + "\nprogram: " + byProgram + "\ndaemon: " + byDaemon);
    }

    @Test
    void changesOffATerminalAreServedAndPrintWhatTheProgramPrints() throws Exception {
        sameChange("pjvm", "pdmn", "pg", "create", "NAME", "main@first", "--no-start");
        assertEquals("stopped", d.pg("pdmn").getString("status"), "the daemon created it");
        sameChange("pjvm", "pdmn", "pg", "start", "NAME");
        assertEquals("running", d.pg("pdmn").getString("status"));
        d.psql(d.pg("pdmn").getInteger("port"), "CREATE TABLE x AS SELECT 1 AS x");
        sameChange("pjvm", "pdmn", "snapshot", "create", "NAME@s");
        sameChange("pjvm", "pdmn", "snapshot", "create", "NAME@s"); // an error: it exists
        sameChange("pjvm", "pdmn", "pg", "create", "NAME-branch", "NAME@s");
        assertEquals("1", d.psql(d.pg("pdmn-branch").getInteger("port"), "SELECT x FROM x").strip());
        sameChange("pjvm", "pdmn", "pg", "destroy", "NAME-branch"); // running: the program would ask, a script is told
        sameChange("pjvm", "pdmn", "pg", "destroy", "NAME-branch", "--yes");
        assertEquals(404, d.request("GET", "/pgs/pdmn-branch", null).statusCode());
        sameChange("pjvm", "pdmn", "pg", "checkout", "NAME", "main@first", "--yes");
        sameChange("pjvm", "pdmn", "pg", "promote", "NAME"); // an error: not a replica
        sameChange("pjvm", "pdmn", "pg", "stop", "NAME");
        assertEquals("stopped", d.pg("pdmn").getString("status"));
        sameChange("pjvm", "pdmn", "pg", "start", "NAME-nope"); // an error
        Path team = Files.createDirectories(workDir.resolve("team"));
        d.ok(201, "PUT", "/remotes", new JsonObject().put("name", "team").put("url", "file://" + team).encode());
        sameChange("pjvm", "pdmn", "snapshot", "push", "NAME@s", "--to", "team");
        sameChange("pjvm", "pdmn", "snapshot", "pull", "NAME@s", "--from", "team"); // here already
        sameChange("pjvm", "pdmn", "snapshot", "pull", "NAME@s", "--from", "nosuch"); // an error
        sameChange("pjvm", "pdmn", "snapshot", "destroy", "NAME@s");
        assertEquals(404, d.request("GET", "/snapshots/pdmn@s", null).statusCode());
        sameChange("pjvm", "pdmn", "pg", "destroy", "NAME", "--yes");
        assertEquals(404, d.request("GET", "/pgs/pdmn", null).statusCode());

        // paths relative to the client's directory, not the daemon's
        sameChange("sjvm", "sdmn", "storage", "attach", "NAME", "--path", "NAME-dir");
        assertEquals(workDir.toRealPath().resolve("sdmn-dir").toString(),
                new JsonObject(d.request("GET", "/storages/sdmn", null).body()).getString("path"));
        sameChange("sjvm", "sdmn", "storage", "gc", "NAME");
        sameChange("sjvm", "sdmn", "storage", "detach", "NAME", "--yes");
        assertEquals(404, d.request("GET", "/storages/sdmn", null).statusCode());
        sameChange("ejvm", "edmn", "snapshot", "export", "main@first", "--to", "NAME.tar");
        assertTrue(Files.size(workDir.resolve("edmn.tar")) > 1_000_000, "the daemon wrote the client's relative path");
        assertEquals(Files.size(workDir.resolve("ejvm.tar")), Files.size(workDir.resolve("edmn.tar")));
        sameChange("ejvm", "edmn", "snapshot", "export", "main@first", "--to", "NAME.tar"); // an error: it exists
    }

    /**
     * {@code snapshot import --from basebackup://} off a terminal is served with the client's password: PGPASSWORD,
     * or PGPASSFILE relative to the client's directory (the launcher sends them in a header, not on curl's command
     * line); another user's line that sends them is the program's.
     */
    @Test
    void aBasebackupImportIsServedWithTheClientsPassword() throws Exception {
        try (PgCluster source = PgCluster.initdb().allowReplication().start()) {
            source.psql("CREATE ROLE importer REPLICATION LOGIN PASSWORD 'se:cret \"q\" \\'");
            source.psql("CREATE TABLE imported AS SELECT 42 AS x");
            Files.writeString(source.dataDir().resolve("pg_hba.conf"), "local all all trust\n"
                    + "host all postgres 127.0.0.1/32 trust\nhost replication importer 127.0.0.1/32 scram-sha-256\n");
            source.exec("pg_ctl", "-D", source.dataDir().toString(), "reload");
            String url = "basebackup://importer@127.0.0.1:" + source.port();
            CliRun byPassword = zenith(with(Map.of("PGPASSWORD", "se:cret \"q\" \\"), "daemon"),
                    "snapshot", "import", "lean@pw", "-s", "leanpw", "--from", url);
            assertEquals(0, byPassword.code(), byPassword.toString());
            assertTrue(byPassword.out().startsWith("imported " + url + " as snapshot lean@pw "), byPassword.out());
            Files.writeString(workDir.resolve("passes"), "127.0.0.1:" + source.port() + ":replication:importer:se\\:cret \"q\" \\\\\n");
            CliRun byFile = zenith(with(Map.of("PGPASSFILE", "passes"), "daemon"),
                    "snapshot", "import", "lean@file", "-s", "leanfile", "--from", url);
            assertEquals(0, byFile.code(), byFile.toString());
            CliRun none = zenith(with(Map.of("PGPASSFILE", "no-such-file"), "daemon"),
                    "snapshot", "import", "lean@none", "-s", "leannone", "--from", url);
            assertTrue(none.code() != 0 && none.code() != 70 && none.err().contains("password"), "the daemon ran it: " + none);
            assertEquals(404, d.request("GET", "/storages/leannone", null).statusCode(), "nothing of a refused import");
            int port = ((JsonObject) d.ok(201, "PUT", "/pgs", new JsonObject().put("name", "lean-branch")
                    .put("snapshot", "lean@file").encode())).getInteger("port");
            assertEquals("42", d.psql(port, "SELECT x FROM imported").strip());

            JsonArray line = new JsonArray().add("snapshot").add("import").add("lean@other").add("-s").add("leanother")
                    .add("--from").add(url);
            for (JsonObject body : List.of(new JsonObject().put("argv", line).put("cwd", workDir.toString()).put("uid", 4242424),
                    new JsonObject().put("argv", line))) {
                var notServed = d.unauthenticated("POST", "/cli", body.encode(), "Content-Type", "application/json",
                        "Authorization", "Bearer " + d.apiToken(), CliEndpoint.PASSWORDS_HEADER, "{\"PGPASSWORD\":\"se:cret \\\"q\\\" \\\\\"}");
                assertEquals(422, notServed.statusCode(), body + ": " + notServed.body());
            }
            var badHeader = d.unauthenticated("POST", "/cli", new JsonObject().put("argv", line).encode(), "Content-Type",
                    "application/json", "Authorization", "Bearer " + d.apiToken(), CliEndpoint.PASSWORDS_HEADER, "{\"HOME\":\"/\"}");
            assertEquals(400, badHeader.statusCode(), "only PGPASSWORD and PGPASSFILE: " + badHeader.body());
            assertEquals(404, d.request("GET", "/storages/leanother", null).statusCode(), "nothing imported for them");
        }
    }

    /** A daemon killed while it runs a served change: the launcher says so and fails; the program does not run it again. */
    @Test
    void aDaemonKilledMidCommandIsAnErrorAndNotASecondRun() throws Exception {
        try (DaemonFixture killed = new DaemonFixture().startProcess()) {
            Path err = workDir.resolve("killed.err");
            Process p = Launcher.command(killed, workDir, Map.of("JAVA_TOOL_OPTIONS", "-XX:+NoSuchOptionSoNoJvmStarts"),
                    "pg", "create", "doomed", "--no-start").redirectError(err.toFile()).start();
            long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(2);
            boolean running = false;
            while (!running && p.isAlive() && System.nanoTime() < deadline) {
                running = new JsonArray(killed.request("GET", "/jobs", null).body()).stream()
                        .map(JsonObject.class::cast).anyMatch(j -> j.getString("state").equals("running")
                                && j.getString("action").startsWith("PUT /pgs"));
                Thread.sleep(20);
            }
            assertTrue(running, "the create's job was seen running; the launcher: " + (p.isAlive() ? "runs" : p.exitValue() + " "
                    + Files.readString(err)));
            killed.killProcess();
            assertTrue(p.waitFor(2, TimeUnit.MINUTES), "the launcher ends");
            String printed = Files.readString(err);
            assertEquals(1, p.exitValue(), printed);
            assertTrue(printed.startsWith("zenith: the daemon at ") && printed.contains("failed this command after it was sent")
                    && printed.contains("is not run again"), printed);
            assertTrue(!printed.contains("Java Virtual Machine") && !printed.contains("NoSuchOption"), "no program ran: " + printed);
        }
    }

    @Test
    void connstrAndLogsAsPeopleUseThem() throws Exception {
        CliRun connstr = zenith(Map.of(), "pg", "connstr", "main");
        assertEquals(0, connstr.code(), connstr.toString());
        assertEquals(new LocalUser.Run(0, "200"), LocalUser.owner(d.pg.bin("psql").toString(), "-X", "-w", "-At",
                connstr.out().strip(), "-c", "SELECT count(*) FROM t"), "psql \"$(zenith pg connstr main)\"");

        CliRun pgTail = zenith(Map.of(), "pg", "logs", "main", "--lines", "3");
        assertEquals(0, pgTail.code(), pgTail.toString());
        assertEquals(3, pgTail.out().strip().split("\n").length, pgTail.out());
        assertTrue(Files.readString(Path.of(d.pg("main").getString("logfile"))).contains(pgTail.out()), pgTail.out());
        CliRun tail = zenith(Map.of(), "logs", "-n", "5");
        assertEquals(0, tail.code(), tail.toString());
        assertEquals(5, tail.out().strip().split("\n").length, tail.out());
        assertTrue(Files.readString(d.home.resolve("zenith.log")).contains(tail.out()), tail.out());

        // -f goes on printing what is appended, until stopped
        int main = d.pg("main").getInteger("port");
        follow(List.of("pg", "logs", "main", "-f"), () -> d.psql(main, "SELECT pg_reload_conf()"),
                "received SIGHUP, reloading configuration files");
        follow(List.of("logs", "-f"), () -> d.ok(201, "PUT", "/pgs", new JsonObject().put("name", "followed")
                .put("start", false).encode()), "pg followed created");
    }

    interface Action {
        void run() throws Exception;
    }

    /** Runs {@code zenith ARGV}, waits for its first line, does {@code action}, then waits (a minute at most) for {@code expected}. */
    private static void follow(List<String> argv, Action action, String expected) throws Exception {
        Process p = Launcher.command(d, workDir, Map.of(), argv.toArray(String[]::new))
                .redirectError(ProcessBuilder.Redirect.DISCARD).start();
        LinkedBlockingQueue<String> lines = new LinkedBlockingQueue<>();
        Thread reader = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                for (String l = r.readLine(); l != null; l = r.readLine()) {
                    lines.add(l);
                }
            } catch (java.io.IOException e) {
                // the process was stopped
            }
        });
        reader.start();
        try {
            assertTrue(lines.poll(2, TimeUnit.MINUTES) != null, argv + " printed the log's tail");
            action.run();
            List<String> seen = new ArrayList<>();
            long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(1);
            while (seen.stream().noneMatch(l -> l.contains(expected)) && System.nanoTime() < deadline) {
                String l = lines.poll(1, TimeUnit.SECONDS);
                if (l != null) {
                    seen.add(l);
                }
            }
            assertTrue(seen.stream().anyMatch(l -> l.contains(expected)), argv + " never printed '" + expected + "': " + seen);
            assertTrue(p.isAlive(), "it follows until stopped");
        } finally {
            p.descendants().forEach(ProcessHandle::destroy);
            p.destroy();
            p.waitFor(1, TimeUnit.MINUTES);
            reader.join(60_000);
        }
    }
}
