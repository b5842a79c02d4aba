package dev.zenith.server.api;

import dev.zenith.cli.Main;
import dev.zenith.server.testing.CliRun;
import dev.zenith.server.testing.DaemonFixture;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Instant;
import java.time.LocalDateTime;
import java.time.ZoneId;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The CLI as people use it, against a real daemon and real PostgreSQL: names as in git, times as typed,
 * checkouts and HEAD~1, zenith log (cross-checked with pg_waldump), tree, psql shortcuts, completion,
 * progress lines, confirmations.
 */
@Tag("pg")
class CliWorkflowTest {
    static DaemonFixture d;

    @BeforeAll
    static void start() throws Exception {
        d = new DaemonFixture().startInProcess();
        System.setProperty("zenith.home", d.home.toString());
        // one primary per timeline: each test's pgs are branches of this one
        ok("pg", "create", "base", "--no-start");
    }

    @AfterAll
    static void stop() throws Exception {
        System.clearProperty("zenith.home");
        d.close();
    }

    static CliRun cli(String... argv) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = new Main(new PrintStream(out, true), new PrintStream(err, true)).run(List.of(argv));
        return new CliRun(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    static CliRun ok(String... argv) {
        CliRun r = cli(argv);
        assertEquals(0, r.code(), String.join(" ", argv) + " -> " + r);
        return r;
    }

    @Test
    void positionalNamesAndFlagsDoTheSameAndJsonIsTheRestAnswer() throws Exception {
        ok("pg", "create", "-n", "flags", "--from", "base", "--no-start");
        ok("pg", "create", "positional", "base", "--no-start");
        assertEquals(new JsonArray(ok("pg", "list", "--json").out()), d.ok(200, "GET", "/pgs", null));
        assertEquals(new JsonArray(ok("--json", "pg", "list").out()), d.ok(200, "GET", "/pgs", null), "--json anywhere");
        assertEquals(new JsonArray(ok("pg", "-o", "json", "list").out()), d.ok(200, "GET", "/pgs", null), "-o json anywhere");
        assertEquals(new JsonObject(ok("pg", "show", "flags", "--json").out()), d.ok(200, "GET", "/pgs/flags", null));

        CliRun list = ok("pg", "list");
        String[] lines = list.out().split("\n");
        assertTrue(lines[1].startsWith("base ") && lines[2].startsWith("flags ") && lines[3].startsWith("positional "),
                "sorted by name: " + list.out());
        for (String line : lines) {
            assertTrue(line.length() <= 100, "fits 100 columns: " + line);
        }
        assertTrue(ok("pg", "list", "-o", "wide").out().contains("postgresql://postgres@127.0.0.1:"), "wide has every column");

        CliRun started = ok("pg", "start", "positional");
        assertTrue(started.out().startsWith("pg positional running; connect with:  psql 'postgresql://"), started.out());
        ok("pg", "start", "-n", "flags");
        int port = d.pg("positional").getInteger("port");
        assertEquals("postgresql://postgres@127.0.0.1:" + port + "/postgres?passfile=" + d.passFile() + "\n",
                ok("pg", "connstr", "positional").out(), "the password is in the owner's password file");
        assertEquals("42\n", ok("pg", "connect", "positional", "-At", "-c", "select 41 + 1").out(), "psql's options pass through");
        assertEquals("7\n", ok("pg", "connect", "positional", "--", "-At", "-c", "select 7").out());

        CliRun show = ok("pg", "show", "positional");
        for (String section : List.of("pg positional\n", "\nconnect\n", "\nhistory\n", "\nfiles\n")) {
            assertTrue(show.out().contains(section), "section " + section.trim() + ": " + show.out());
        }
        assertFalse(show.out().matches("(?s).*\\.\\d{6,}.*Z.*"), "no nanoseconds for people: " + show.out());

        assertEquals(2, cli("pg", "destroy", "flags").code(), "a running pg needs --yes when no one can be asked");
        assertEquals("running", d.pg("flags").getString("status"), "and nothing changed");
        assertEquals(new CliRun(0, "pg flags destroyed\n", ""), cli("pg", "destroy", "flags", "--yes"));
        assertEquals(new CliRun(0, "pg positional destroyed\n", ""), cli("pg", "destroy", "-n", "positional", "--force"));
    }

    @Test
    void checkoutByNameAndHeadTildeWithProgressLinesAndTheLogMatchesPgWaldump() throws Exception {
        ok("pg", "create", "hist", "base");
        int port = d.pg("hist").getInteger("port");
        d.psql(port, "CREATE TABLE t (x int)");
        Map<Long, String> ourCommits = new HashMap<>(); // xid -> LSN of the commit record, from pg_waldump below
        List<Long> xids = new ArrayList<>();
        String startLsn = d.psql(port, "SELECT pg_current_wal_insert_lsn()");
        for (int i = 0; i < 3; i++) {
            xids.add(Long.parseLong(d.psql(port, "INSERT INTO t VALUES (" + i + ") RETURNING txid_current()").lines().findFirst().orElseThrow()));
        }
        CliRun snap = ok("snapshot", "create", "hist@before-migration");
        assertTrue(snap.out().startsWith("snapshot hist@before-migration at "), snap.out());
        assertTrue(snap.out().contains("last commit "), "the resolved point says when its data was committed: " + snap.out());
        xids.add(Long.parseLong(d.psql(port, "INSERT INTO t VALUES (99) RETURNING txid_current()").lines().findFirst().orElseThrow()));
        String timeline = d.pg("hist").getString("timeline_id");

        // pg_waldump's view of the same commits (read before the checkout rebuilds the directory)
        Path walDir = Path.of(d.pg("hist").getString("pgdata"), "pg_wal");
        d.psql(port, "SELECT pg_switch_wal()");
        String pgTimeline = d.psql(port, "SELECT timeline_id FROM pg_control_checkpoint()"); // a branch has its own
        Process dump = new ProcessBuilder(d.pg.bin("pg_waldump").toString(), "--path=" + walDir, "--rmgr=Transaction",
                "--timeline=" + pgTimeline, "--start=" + startLsn).redirectErrorStream(true).start();
        String waldump = new String(dump.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        dump.waitFor();
        Matcher m = Pattern.compile("tx:\\s+(\\d+), lsn: ([0-9A-F]+/[0-9A-F]+),.*desc: COMMIT").matcher(waldump);
        while (m.find()) {
            ourCommits.put(Long.parseLong(m.group(1)), dev.zenith.wal.Lsn.parse(m.group(2)).toString()); // 0/0174... -> 0/174...
        }
        assertTrue(ourCommits.keySet().containsAll(xids), "pg_waldump shows our commits: " + waldump);

        // a branch taken from hist's history at the snapshot: it stays in hist's log across the checkouts below
        ok("pg", "create", "side", "hist@before-migration", "--no-start");
        String snapLsn = new JsonObject(ok("snapshot", "show", "hist@before-migration", "--json").out()).getString("lsn");

        CliRun refused = cli("pg", "checkout", "hist", "hist@before-migration");
        assertEquals(2, refused.code(), refused.toString());
        assertTrue(refused.err().contains("is running") && refused.err().contains("--yes"), refused.err());
        assertEquals(timeline, d.pg("hist").getString("timeline_id"), "nothing changed");

        CliRun checkout = ok("pg", "checkout", "hist", "before-migration", "--yes");
        assertTrue(checkout.out().startsWith("pg hist now at hist@before-migration (running); the state it left is hist@HEAD1"),
                checkout.out());
        assertTrue(checkout.err().contains("zenith: checkout hist: stopping PostgreSQL of pg hist...\n")
                && checkout.err().contains("zenith: checkout hist: keeping the state pg hist leaves as snapshot hist@HEAD1...\n")
                && checkout.err().contains("zenith: checkout hist: starting PostgreSQL"), "one line per phase: " + checkout.err());
        assertEquals("3", d.psql(port, "SELECT count(*) FROM t"));

        // a branch of the history hist just left, after the snapshot: not in hist's history once it is back there
        ok("pg", "create", "later", "hist@HEAD1", "--no-start");
        CliRun back = ok("pg", "checkout", "-n", "hist", "HEAD~1", "--yes");
        assertTrue(back.out().startsWith("pg hist now at hist@HEAD1 "), back.out());
        assertEquals("4", d.psql(port, "SELECT count(*) FROM t"));
        ok("pg", "checkout", "hist", "hist@HEAD@{1}", "--yes"); // the latest state left: HEAD2, the snapshot's
        assertEquals("3", d.psql(port, "SELECT count(*) FROM t"));
        assertEquals(2, cli("pg", "checkout", "hist", "HEAD~9", "--yes").code());

        JsonObject log = new JsonObject(ok("log", "hist", "--json", "-n", "1000").out());
        JsonArray entries = log.getJsonArray("entries");
        List<String> kinds = new ArrayList<>();
        Instant previous = Instant.MAX;
        Map<Long, String> logged = new HashMap<>();
        for (int i = 0; i < entries.size(); i++) {
            JsonObject e = entries.getJsonObject(i);
            Instant t = Instant.parse(e.getString("time"));
            assertFalse(t.isAfter(previous), "newest first: " + entries.encodePrettily());
            previous = t;
            kinds.add(e.getString("kind") + (e.containsKey("name") ? " " + e.getString("name") : ""));
            if (e.getString("kind").equals("commit")) {
                logged.put(e.getLong("xid"), e.getString("lsn"));
            }
        }
        for (long xid : xids.subList(0, 3)) {
            assertEquals(ourCommits.get(xid), logged.get(xid), "commit xid " + xid + " at pg_waldump's LSN");
        }
        assertFalse(logged.containsKey(xids.get(3)), "the commit after the snapshot is not in this history any more");
        assertTrue(kinds.contains("snapshot hist@before-migration"), kinds.toString());
        assertTrue(kinds.contains("checkout hist@HEAD1") && kinds.contains("checkout hist@HEAD2")
                && kinds.contains("checkout hist@HEAD3"), kinds.toString());
        assertTrue(kinds.contains("branched_from") && kinds.contains("stop"), kinds.toString());
        assertTrue(kinds.indexOf("checkout hist@HEAD3") < kinds.indexOf("checkout hist@HEAD1"), kinds.toString());
        // branches taken from it: side (at the snapshot, on the history hist is on), not later (past the point
        // where hist's present history left the one later branched from)
        List<JsonObject> branches = new ArrayList<>();
        for (int i = 0; i < entries.size(); i++) {
            if (entries.getJsonObject(i).getString("kind").equals("branch")) {
                branches.add(entries.getJsonObject(i));
            }
        }
        List<JsonObject> sides = branches.stream().filter(b -> b.getString("text").endsWith(": pg side")).toList();
        assertEquals(1, sides.size(), "the branch side, once: " + branches);
        assertEquals(d.pg("side").getString("timeline_id"), sides.get(0).getString("timeline_id"));
        assertEquals(snapLsn, sides.get(0).getString("lsn"), "taken at the snapshot's LSN");
        assertEquals("branch taken at " + snapLsn + ": pg side", sides.get(0).getString("text"));
        String later = d.pg("later").getString("timeline_id");
        assertTrue(branches.stream().noneMatch(b -> b.getString("text").contains("pg later")
                || b.getString("timeline_id").equals(later)), branches.toString());
        int side = -1;
        for (int i = 0; i < entries.size(); i++) {
            side = entries.getJsonObject(i).equals(sides.get(0)) ? i : side;
        }
        assertTrue(kinds.indexOf("checkout hist@HEAD1") < side && side < kinds.indexOf("snapshot hist@before-migration"),
                "newest first: after the snapshot, before the first checkout: " + kinds);
        assertTrue(ok("log", "hist").out().contains("branch taken at " + snapLsn + ": pg side"), ok("log", "hist").out());
        assertTrue(log.containsKey("retention_horizon"), log.encode());

        CliRun oneline = ok("log", "hist", "--oneline", "-n", "3");
        assertEquals(4, oneline.out().split("\n").length - (oneline.out().contains("retention horizon") ? 1 : 0),
                "3 entries, then how to see more: " + oneline.out());
        assertTrue(oneline.out().contains("more: zenith log hist --until "), oneline.out());
        JsonObject recent = new JsonObject(ok("log", "hist", "--json", "--since", "1 hour ago").out());
        assertFalse(recent.getJsonArray("entries").isEmpty());
        assertTrue(new JsonObject(ok("log", "hist", "--json", "--until", "2 hours ago").out()).getJsonArray("entries").isEmpty());

        CliRun tree = ok("tree");
        assertTrue(tree.out().contains("storage local") && tree.out().contains("snapshot hist@HEAD1")
                && tree.out().contains("branch: pg hist (running)"), tree.out());
        assertEquals(tree.out(), ok("pg", "list", "--tree").out());
        ok("pg", "destroy", "hist", "--yes");
        ok("pg", "destroy", "side");
        ok("pg", "destroy", "later");
    }

    @Test
    void timesAsPeopleTypeThemResolveToAnLsnAndAUtcTime() throws Exception {
        ok("pg", "create", "clock", "base@CURRENT");
        int port = d.pg("clock").getInteger("port");
        d.psql(port, "CREATE TABLE t AS SELECT 1 AS x");
        Thread.sleep(1100);
        LocalDateTime localNow = LocalDateTime.now(ZoneId.systemDefault()).withNano(0);
        Thread.sleep(1100);
        d.psql(port, "INSERT INTO t VALUES (2)");

        CliRun local = ok("pg", "create", "before", "clock", "--time", localNow.toString().replace('T', ' '), "--no-start");
        assertTrue(local.out().contains("  point:  LSN ") && local.out().contains("last commit "), local.out());
        assertTrue(local.out().contains("no zone given: read as this machine's local time"), local.out());
        assertTrue(local.out().contains(" = " + localNow.atZone(ZoneId.systemDefault()).toInstant().toString()
                .replace('T', ' ')), "the UTC time it resolved to: " + local.out());
        JsonObject branch = new JsonObject(ok("pg", "create", "ago", "clock@CURRENT", "--time", "2 seconds ago", "--json",
                "--no-start").out()).getJsonObject("branch");
        String lsn = d.pg("before").getString("source").replace("clock@", "");
        assertEquals(branch.getString("lsn"), lsn, "'2 seconds ago' and that local time are the same point");

        ok("pg", "create", "bylsn", "--from", "clock", "--at", lsn, "--no-start");
        assertEquals("clock@" + lsn, d.pg("bylsn").getString("source"));
        ok("pg", "start", "bylsn");
        assertEquals("1", d.psql(d.pg("bylsn").getInteger("port"), "SELECT count(*) FROM t"));

        CliRun future = cli("pg", "create", "never", "clock", "--time", "yesterday 00:00");
        assertEquals(1, future.code());
        assertTrue(future.err().contains("was read as "), "the error says how the time was read: " + future.err());
        CliRun noPoint = cli("pg", "checkout", "clock");
        assertEquals(2, noPoint.code());
        assertTrue(noPoint.err().contains("--lsn, --time or --at") && !noPoint.err().contains("snapshot, lsn, time"),
                noPoint.err());
        for (String pg : List.of("clock", "before", "ago", "bylsn")) {
            ok("pg", "destroy", pg, "--yes");
        }
    }

    @Test
    void bashCompletionCompletesPgNamesFromTheRunningDaemon() throws Exception {
        ok("pg", "create", "complete-me", "--no-start");
        String java = ProcessHandle.current().info().command().orElse("java");
        String script = "zenith() { '" + java + "' -cp '" + System.getProperty("java.class.path") + "' -Dzenith.home='"
                + d.home + "' dev.zenith.cli.terminal.ZenithProgram \"$@\"; }\n"
                + "source <(zenith completion bash)\n"
                + "COMP_WORDS=(zenith pg start comp); COMP_CWORD=3; _zenith; echo \"${COMPREPLY[@]}\"\n"
                + "COMP_WORDS=(zenith pg sta); COMP_CWORD=2; _zenith; echo \"${COMPREPLY[@]}\"\n";
        Process p = new ProcessBuilder("bash", "-c", script).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.waitFor(), out);
        assertEquals("complete-me\nstart\n", out);
        ok("pg", "destroy", "complete-me");
    }

    @Test
    void errorsSpeakCliNotRest() {
        CliRun missing = cli("snapshot", "show", "nobody@nothing");
        assertEquals(1, missing.code());
        assertTrue(missing.err().contains("(see: zenith snapshot list)"), missing.err());
        CliRun pgOnly = cli("snapshot", "show", "main");
        assertEquals(2, pgOnly.code());
        assertTrue(pgOnly.err().contains("name one as PG@SNAPSHOT"), pgOnly.err());
        CliRun lsnNoFrom = cli("pg", "create", "x", "--lsn", "0/1");
        assertEquals(2, lsnNoFrom.code());
        assertTrue(lsnNoFrom.err().contains("need a pg to branch from"), lsnNoFrom.err());
    }
}
