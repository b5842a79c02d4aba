package dev.zenith.cli;

import org.junit.jupiter.api.Test;
import picocli.CommandLine;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The CLI's parser without a daemon: help everywhere, version, typos, usage errors. */
class HelpTest {
    record Run(int code, String out, String err) {
    }

    static Run cli(String... argv) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = new Main(new PrintStream(out, true), new PrintStream(err, true)).run(List.of(argv));
        return new Run(code, out.toString(), err.toString());
    }

    /** Every command's path, e.g. [pg, create]. */
    private static List<List<String>> commands(CommandLine cmd, List<String> prefix) {
        List<List<String>> all = new ArrayList<>();
        cmd.getSubcommands().forEach((name, sub) -> {
            if (sub.getCommandSpec().usageMessage().hidden() || !sub.getCommandName().equals(name)) {
                return; // aliases and hidden helpers
            }
            List<String> path = new ArrayList<>(prefix);
            path.add(name);
            all.add(path);
            all.addAll(commands(sub, path));
        });
        return all;
    }

    @Test
    void everyCommandHasHelpWithADescriptionAndAnExample() {
        List<List<String>> all = commands(Main.commandLine(new Cli(System.out, System.err)), List.of());
        assertTrue(all.size() > 25, "commands: " + all);
        for (List<String> path : all) {
            for (String flag : List.of("--help", "-h")) {
                List<String> argv = new ArrayList<>(path);
                argv.add(flag);
                Run r = cli(argv.toArray(String[]::new));
                assertEquals(0, r.code(), argv + ": " + r);
                assertTrue(r.out().startsWith("Usage: zenith " + String.join(" ", path)), argv + ": " + r.out());
                String[] lines = r.out().split("\n");
                assertFalse(lines[lines.length > 1 ? 1 : 0].isBlank(), argv + " has a description: " + r.out());
                assertTrue(r.out().contains("Example"), argv + " has an example: " + r.out());
                assertTrue(java.util.regex.Pattern.compile("(?m)^  .*zenith ").matcher(r.out()).find(), argv + " example is a command line: " + r.out());
            }
        }
    }

    @Test
    void helpFlagsWorkAfterArgumentsToo() {
        Run r = cli("pg", "start", "main", "--help");
        assertEquals(0, r.code(), r.toString());
        assertTrue(r.out().contains("zenith pg start main"), r.out());
    }

    @Test
    void versionNamesZenithPostgresAndJava() {
        Run r = cli("--version");
        assertEquals(0, r.code(), r.toString());
        String[] lines = r.out().split("\n");
        assertTrue(lines[0].matches("zenith \\d+\\.\\d+\\.\\d+.*"), r.out());
        assertTrue(lines[1].startsWith("PostgreSQL 15."), r.out());
        assertTrue(lines[2].startsWith("Java " + System.getProperty("java.version")), r.out());
        assertEquals(r, cli("-V"));
    }

    @Test
    void versionIsTheProgramsNotACommands() {
        for (String[] line : List.of(new String[] {"pg", "list", "--version"}, new String[] {"pg", "-V"},
                new String[] {"snapshot", "create", "main@x", "-V"})) {
            Run r = cli(line);
            assertEquals(2, r.code(), List.of(line) + ": " + r);
            assertTrue(r.err().startsWith("zenith: unknown option '" + line[line.length - 1] + "'"), r.err());
        }
        assertFalse(cli("pg", "list", "--help").out().contains("--version"), "not in a command's help");
        assertTrue(cli("--help").out().contains("-V, --version"), "but in the program's");
    }

    @Test
    void typosGetSuggestionsAndExitCode2() {
        Run r = cli("pg", "strat", "main");
        assertEquals(2, r.code(), r.toString());
        assertTrue(r.err().startsWith("zenith: unknown command 'strat' for 'zenith pg'\n"), r.err());
        assertTrue(r.err().contains("did you mean: start"), r.err());
        assertTrue(r.err().contains("see: zenith pg --help"), r.err());
        assertEquals("", r.out());

        Run top = cli("snapshto", "list");
        assertEquals(2, top.code());
        assertTrue(top.err().contains("did you mean: snapshot"), top.err());

        Run option = cli("pg", "create", "main", "--no-strat");
        assertEquals(2, option.code());
        assertTrue(option.err().contains("unknown option '--no-strat'") && option.err().contains("--no-start"), option.err());
    }

    @Test
    void noCommandPrintsUsageWithExitCode2() {
        Run r = cli();
        assertEquals(2, r.code());
        assertTrue(r.out().startsWith("Usage: zenith"), r.out());
        Run pg = cli("pg");
        assertEquals(2, pg.code(), pg.toString());
        assertTrue(pg.err().contains("pg needs a subcommand: ") && pg.err().contains("checkout"), pg.err());
    }

    @Test
    void usageErrorsNameOptionsNotRestFields() {
        Run twoNames = cli("pg", "start", "a", "-n", "b");
        assertEquals(2, twoNames.code());
        assertTrue(twoNames.err().contains("two pg names: 'a' and -n 'b'"), twoNames.err());
        Run time = cli("pg", "create", "dev", "main", "--time", "whenever");
        assertEquals(2, time.code());
        assertTrue(time.err().contains("cannot read the time 'whenever'"), time.err());
        Run badFormat = cli("pg", "list", "-o", "yaml");
        assertEquals(2, badFormat.code());
        assertTrue(badFormat.err().contains("-o") && badFormat.err().contains("TABLE, WIDE, JSON"), badFormat.err());
        Run noPath = cli("storage", "attach", "fast");
        assertEquals(2, noPath.code());
        assertTrue(noPath.err().contains("missing --path DIR"), noPath.err());
    }

    @Test
    void completionScriptsLoadInTheirShells() throws Exception {
        Run bash = cli("completion", "bash");
        assertEquals(0, bash.code());
        Process p = new ProcessBuilder("bash", "-c", "source /dev/stdin; complete -p zenith").start();
        p.getOutputStream().write(bash.out().getBytes());
        p.getOutputStream().close();
        String out = new String(p.getInputStream().readAllBytes());
        assertEquals(0, p.waitFor(), new String(p.getErrorStream().readAllBytes()));
        assertTrue(out.contains("-F _zenith zenith"), out);
        assertTrue(cli("completion", "zsh").out().contains("compdef _zenith zenith"));
        assertEquals(2, cli("completion", "fish").code());
    }

    @Test
    void completionOffersCommandsAndOptionsFromTheParser() {
        assertEquals("checkout\n", cli("__complete", "--", "pg", "che").out());
        assertTrue(cli("__complete", "--", "pg", "create", "--re").out().contains("--read-only"));
        assertEquals("json\n", cli("__complete", "--", "pg", "list", "-o", "j").out());
        assertTrue(cli("__complete", "--", "").out().contains("snapshot\n"));
        assertFalse(cli("__complete", "--", "").out().contains("__complete"));
    }
}
