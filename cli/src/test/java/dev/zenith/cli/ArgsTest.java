package dev.zenith.cli;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ArgsTest {
    private static Args parse(String... argv) {
        return Args.parse(List.of(argv), Set.of("name", "storage"), Set.of("json", "no-start"),
                Map.of("n", "name", "s", "storage"));
    }

    @Test
    void shortLongAndInlineForms() {
        Args a = parse("-n", "main", "--storage=local", "--json", "extra");
        assertEquals("main", a.get("name"));
        assertEquals("local", a.get("storage"));
        assertTrue(a.flag("json"));
        assertEquals(List.of("extra"), a.positional());
        assertEquals("x", parse("--name", "x").get("name"));
    }

    @Test
    void mistakesAreClearErrors() {
        assertEquals("unknown option --nmae", assertThrows(CliException.class, () -> parse("--nmae", "x")).getMessage());
        assertEquals("option -n needs a value", assertThrows(CliException.class, () -> parse("-n")).getMessage());
        assertEquals("option --json takes no value", assertThrows(CliException.class, () -> parse("--json=yes")).getMessage());
        assertEquals("missing pg name (--name)", assertThrows(CliException.class, () -> parse().require("name", "pg name")).getMessage());
        assertEquals("option --name given twice", assertThrows(CliException.class, () -> parse("-n", "x", "--name", "y")).getMessage());
        assertEquals("unexpected argument extra", assertThrows(CliException.class, () -> parse("-n", "x", "extra").noPositional()).getMessage());
    }

    @Test
    void commandsThatTakeNoArgumentsRefuseStrayOnesBeforeAskingTheDaemon() {
        var err = new java.io.ByteArrayOutputStream();
        Main m = new Main(new java.io.PrintStream(new java.io.ByteArrayOutputStream()), new java.io.PrintStream(err));
        for (List<String> argv : List.of(List.of("status", "extra"), List.of("pg", "list", "extra"), List.of("stop", "now"),
                List.of("storage", "list", "x"), List.of("snapshot", "list", "x"), List.of("pg", "create", "-n", "a", "b"))) {
            err.reset();
            assertEquals(1, m.run(argv), argv.toString());
            assertTrue(err.toString().startsWith("zenith: unexpected argument"), argv + ": " + err);
        }
    }

    @Test
    void waldumpWithoutFilesAndUnknownCommandsFail() {
        var out = new java.io.ByteArrayOutputStream();
        var err = new java.io.ByteArrayOutputStream();
        Main m = new Main(new java.io.PrintStream(out), new java.io.PrintStream(err));
        assertEquals(2, m.run(List.of("frobnicate")));
        assertTrue(err.toString().contains("unknown command 'frobnicate'"));
        assertEquals(2, m.run(List.of()));
        assertTrue(out.toString().contains("usage: zenith"));
    }
}
