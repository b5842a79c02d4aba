package dev.zenith.server.api;

import dev.zenith.server.testing.CliRun;
import dev.zenith.server.testing.DaemonFixture;
import dev.zenith.server.testing.Launcher;
import dev.zenith.testkit.PgCluster;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The zenith program as a person runs it on a terminal (a pseudo-terminal from util-linux's script, through the
 * real launcher), beside the same commands in a script: the progress bar of a long action against one line per
 * phase, and the question a destructive action asks, answered no, yes, or not at all.
 */
@Tag("pg")
class TerminalCliIT {
    static DaemonFixture d;
    static Path workDir;

    @BeforeAll
    static void start() throws Exception {
        assumeTrue(Launcher.canRunOnTerminal(), "util-linux script gives the program a terminal");
        d = new DaemonFixture();
        // the checkout must write its directory (a phase counting bytes): a ready directory at the snapshot's own
        // anchor would be taken as it is, with nothing to draw
        d.redoSettings.put("ready_directories", false);
        d.startProcess();
        workDir = Files.createTempDirectory("zenith-user-dir");
        int main = d.createPg("main").getInteger("port");
        // enough data that a checkout's rebuild writes tens of MiB: its phases last for several looks of the CLI
        d.pgbench(main, "-i", "-s", "4", "-q");
        d.ok(201, "PUT", "/snapshots", new JsonObject().put("name", "main@loaded").encode());
    }

    @AfterAll
    static void stop() throws Exception {
        if (d != null) {
            d.close();
            PgCluster.deleteTree(workDir);
        }
    }

    @Test
    void aLongActionDrawsABarOnATerminalAndPrintsLinesInAScript() throws Exception {
        String timeline = d.pg("main").getString("timeline_id");
        // on a terminal, without --yes: it asks first; "y" lets it go ahead, then the phases that count bytes are bars
        CliRun onTerminal = Launcher.typingOnTerminal(d, workDir, Map.of("TERM", "xterm"), "y\n",
                "pg", "checkout", "main", "main@loaded");
        assertEquals(0, onTerminal.code(), onTerminal.toString());
        assertTrue(onTerminal.out().contains("pg main is running: the checkout stops it, which ends its sessions. Go ahead? [y/N] "),
                onTerminal.out());
        assertTrue(onTerminal.out().contains("pg main now at main@loaded"), onTerminal.out());
        assertTrue(!timeline.equals(d.pg("main").getString("timeline_id")), "the checkout happened");
        String bars = onTerminal.out();
        // the phase's name on a line, then me.tongfei progressbar redraws its line after a carriage return:
        // percentage, a bar wider than a few characters, MiB done of the total, elapsed / ETA, rate ('?' before a
        // whole second has passed, as on a quick machine)
        assertTrue(bars.contains("zenith: checkout main: rebuilding the data directory from the store ("), printable(bars));
        assertTrue(Pattern.compile("\r *\\d+% \\[[=> ]{20,}\\] +[0-9.]+/[0-9.]+ MiB \\([0-9:]+ / [0-9:?]+\\) +([0-9.]+|\\?) ?MiB/s")
                .matcher(bars).find(), "a bar with its rate and ETA: " + printable(bars));
        assertTrue(bars.contains("100% ["), "it ends full: " + printable(bars));

        // in a script: one plain line per phase, sizes included, no carriage return
        String now = d.pg("main").getString("timeline_id");
        CliRun piped = Launcher.run(d, workDir, Map.of("TERM", "xterm"), "pg", "checkout", "main", "main@loaded", "--yes");
        assertEquals(0, piped.code(), piped.toString());
        assertTrue(piped.out().startsWith("pg main now at main@loaded"), piped.out());
        // its size when the phase has one (a ready directory taken as it is writes nothing: no size then)
        assertTrue(Pattern.compile("(?m)^zenith: checkout main: rebuilding the data directory from the store( \\([0-9.]+ [KM]iB\\))?\\.\\.\\.$")
                .matcher(piped.err()).find(), piped.err());
        assertTrue(piped.err().contains("zenith: checkout main: stopping PostgreSQL of pg main...\n"), piped.err());
        assertFalse(piped.err().contains("\r") || piped.err().contains("%") || piped.err().contains("\u001b["), piped.err());
        assertTrue(!now.equals(d.pg("main").getString("timeline_id")), "the checkout happened");
    }

    @Test
    void aDestructiveActionAsksOnATerminal() throws Exception {
        d.ok(201, "PUT", "/pgs", new JsonObject().put("name", "dev").put("from", "main").encode());
        assertEquals("running", d.pg("dev").getString("status"));
        String prompt = "pg dev is running: destroying it ends its sessions. Go ahead? [y/N] ";

        CliRun no = Launcher.typingOnTerminal(d, workDir, Map.of(), "n\n", "pg", "destroy", "dev");
        assertEquals(1, no.code(), no.toString());
        assertTrue(no.out().contains(prompt) && no.out().contains("zenith: nothing was changed"), no.out());
        assertEquals("running", d.pg("dev").getString("status"), "'n': nothing changed");

        CliRun noAnswer = Launcher.typingOnTerminal(d, workDir, Map.of(), "", "pg", "destroy", "dev");
        assertEquals(1, noAnswer.code(), noAnswer.toString());
        assertTrue(noAnswer.out().contains(prompt) && noAnswer.out().contains("zenith: nothing was changed"), noAnswer.out());
        assertEquals("running", d.pg("dev").getString("status"), "end of input: nothing changed");

        CliRun other = Launcher.typingOnTerminal(d, workDir, Map.of(), "sure\n", "pg", "destroy", "dev");
        assertEquals(1, other.code(), "only y or yes goes ahead: " + other);
        assertEquals("running", d.pg("dev").getString("status"));

        CliRun script = Launcher.run(d, workDir, Map.of(), "pg", "destroy", "dev");
        assertEquals(new CliRun(2, "", "zenith: pg dev is running: destroying it ends its sessions; add --yes to go ahead"
                + " (nothing was changed)\n"), script, "no terminal: no question, no change");
        assertEquals("running", d.pg("dev").getString("status"));

        CliRun yes = Launcher.typingOnTerminal(d, workDir, Map.of(), "y\n", "pg", "destroy", "dev");
        assertEquals(0, yes.code(), yes.toString());
        assertTrue(yes.out().contains(prompt) && yes.out().contains("pg dev destroyed"), yes.out());
        assertEquals(404, d.request("GET", "/pgs/dev", null).statusCode(), "'y': destroyed");
    }

    /** Control characters made visible, for failure messages. */
    private static String printable(String s) {
        return s.replace("\r", "\\r").replace("\u001b", "\\e");
    }
}
